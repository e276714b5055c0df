{
  "targets": [
    {
      "target_name": "tpusim_fast",
      "sources": [
        "src/addon.cc",
        "src/gemm_driver.cc",
        "src/kernel_avx2.cc",
        "src/kernel_avx512.cc",
        "src/reduce.cc",
        "src/topk.cc",
        "src/partial_reduce.cc",
        "src/im2col.cc"
      ],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-exceptions"],
      "cflags_cc!": ["-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
      "defines": ["NAPI_VERSION=8"],
      "xcode_settings": {
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"]
      }
    }
  ]
}
