;; Portable fast-path kernels: a 4x8 f32x4 SGEMM microkernel with its packing routines.
;;
;; The JS side (src/tpu/fast/wasm_backend.ts) copies operands into this module's own memory
;; (one memcpy per operand; the arena is a SharedArrayBuffer this memory cannot adopt), runs
;; the BLIS loop nest over `packA` / `packB` / `macro` below, and copies C out.
;;
;; Every `;; madd` line is c + a*b as f32x4.mul then f32x4.add. scripts/build-wasm.mjs also
;; emits a second module where each of those becomes one f32x4.relaxed_madd (fused or not,
;; as the host chooses); the loader uses it only where the host validates relaxed SIMD.
;;
;; Addresses are byte offsets into memory; strides are in elements.
(module
  (memory (export "memory") 1)

  ;; C[4x8] (+)= Apanel^T * Bpanel over kc steps. a: k-major 4 floats per k; b: 8 floats per k.
  ;; 8 accumulators + 2 B vectors + 1 broadcast fit V8's 15 allocatable xmm registers on x64;
  ;; 5- and 6-row variants spilled and ran slower.
  (func $micro (param $kc i32) (param $a i32) (param $b i32) (param $c i32) (param $ldc i32) (param $acc i32)
    (local $b0 v128) (local $b1 v128) (local $ai v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (block $done
      (loop $k
        (br_if $done (i32.eqz (local.get $kc)))
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $ai (v128.load32_splat (local.get $a)))
        local.get $ai
        local.get $b0
        f32x4.mul
        local.get $c00
        f32x4.add ;; madd
        local.set $c00
        local.get $ai
        local.get $b1
        f32x4.mul
        local.get $c01
        f32x4.add ;; madd
        local.set $c01
        (local.set $ai (v128.load32_splat offset=4 (local.get $a)))
        local.get $ai
        local.get $b0
        f32x4.mul
        local.get $c10
        f32x4.add ;; madd
        local.set $c10
        local.get $ai
        local.get $b1
        f32x4.mul
        local.get $c11
        f32x4.add ;; madd
        local.set $c11
        (local.set $ai (v128.load32_splat offset=8 (local.get $a)))
        local.get $ai
        local.get $b0
        f32x4.mul
        local.get $c20
        f32x4.add ;; madd
        local.set $c20
        local.get $ai
        local.get $b1
        f32x4.mul
        local.get $c21
        f32x4.add ;; madd
        local.set $c21
        (local.set $ai (v128.load32_splat offset=12 (local.get $a)))
        local.get $ai
        local.get $b0
        f32x4.mul
        local.get $c30
        f32x4.add ;; madd
        local.set $c30
        local.get $ai
        local.get $b1
        f32x4.mul
        local.get $c31
        f32x4.add ;; madd
        local.set $c31
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (local.set $kc (i32.sub (local.get $kc) (i32.const 1)))
        (br $k)))
    (if (local.get $acc)
      (then
        (local.set $c00 (f32x4.add (local.get $c00) (v128.load (local.get $c))))
        (local.set $c01 (f32x4.add (local.get $c01) (v128.load offset=16 (local.get $c))))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (local.set $c10 (f32x4.add (local.get $c10) (v128.load (local.get $c))))
        (local.set $c11 (f32x4.add (local.get $c11) (v128.load offset=16 (local.get $c))))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (local.set $c20 (f32x4.add (local.get $c20) (v128.load (local.get $c))))
        (local.set $c21 (f32x4.add (local.get $c21) (v128.load offset=16 (local.get $c))))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (local.set $c30 (f32x4.add (local.get $c30) (v128.load (local.get $c))))
        (local.set $c31 (f32x4.add (local.get $c31) (v128.load offset=16 (local.get $c))))
        (local.set $c (i32.sub (local.get $c) (i32.mul (local.get $ldc) (i32.const 3))))))
    (v128.store (local.get $c) (local.get $c00))
    (v128.store offset=16 (local.get $c) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c10))
    (v128.store offset=16 (local.get $c) (local.get $c11))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c20))
    (v128.store offset=16 (local.get $c) (local.get $c21))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $c30))
    (v128.store offset=16 (local.get $c) (local.get $c31)))

  ;; Every micro-tile of an mc x nc block of C (row stride ldc bytes). Edge tiles run the full
  ;; kernel into `tile` (a 4x8 scratch) and copy only their valid part.
  (func (export "macro") (param $mc i32) (param $nc i32) (param $kc i32) (param $pa i32) (param $pb i32)
    (param $c i32) (param $ldc i32) (param $acc i32) (param $tile i32)
    (local $jr i32) (local $ir i32) (local $rows i32) (local $cols i32) (local $ctile i32)
    (local $i i32) (local $j i32) (local $src i32) (local $dst i32)
    (block $jdone
      (loop $jloop
        (br_if $jdone (i32.ge_u (local.get $jr) (local.get $nc)))
        (local.set $cols (i32.sub (local.get $nc) (local.get $jr)))
        (if (i32.gt_u (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
        (local.set $ir (i32.const 0))
        (block $idone
          (loop $iloop
            (br_if $idone (i32.ge_u (local.get $ir) (local.get $mc)))
            (local.set $rows (i32.sub (local.get $mc) (local.get $ir)))
            (if (i32.gt_u (local.get $rows) (i32.const 4)) (then (local.set $rows (i32.const 4))))
            (local.set $ctile
              (i32.add (local.get $c)
                (i32.add (i32.mul (local.get $ir) (local.get $ldc)) (i32.shl (local.get $jr) (i32.const 2)))))
            (if (i32.and (i32.eq (local.get $rows) (i32.const 4)) (i32.eq (local.get $cols) (i32.const 8)))
              (then
                (call $micro (local.get $kc)
                  (i32.add (local.get $pa) (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2)))
                  (i32.add (local.get $pb) (i32.shl (i32.mul (local.get $jr) (local.get $kc)) (i32.const 2)))
                  (local.get $ctile) (local.get $ldc) (local.get $acc)))
              (else
                (call $micro (local.get $kc)
                  (i32.add (local.get $pa) (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2)))
                  (i32.add (local.get $pb) (i32.shl (i32.mul (local.get $jr) (local.get $kc)) (i32.const 2)))
                  (local.get $tile) (i32.const 32) (i32.const 0))
                (local.set $i (i32.const 0))
                (block $rdone
                  (loop $rloop
                    (br_if $rdone (i32.ge_u (local.get $i) (local.get $rows)))
                    (local.set $j (i32.const 0))
                    (block $cdone
                      (loop $cloop
                        (br_if $cdone (i32.ge_u (local.get $j) (local.get $cols)))
                        (local.set $src
                          (i32.add (local.get $tile) (i32.shl (i32.add (i32.shl (local.get $i) (i32.const 3)) (local.get $j)) (i32.const 2))))
                        (local.set $dst
                          (i32.add (local.get $ctile) (i32.add (i32.mul (local.get $i) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 2)))))
                        (if (local.get $acc)
                          (then (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src)))))
                          (else (f32.store (local.get $dst) (f32.load (local.get $src)))))
                        (local.set $j (i32.add (local.get $j) (i32.const 1)))
                        (br $cloop)))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $rloop)))))
            (local.set $ir (i32.add (local.get $ir) (i32.const 4)))
            (br $iloop)))
        (local.set $jr (i32.add (local.get $jr) (i32.const 8)))
        (br $jloop))))

  ;; Element at byte address p: f32, or bf16 bits (2 bytes) widened by a 16-bit shift.
  (func $load (param $p i32) (param $bf16 i32) (result f32)
    (if (result f32) (local.get $bf16)
      (then (f32.reinterpret_i32 (i32.shl (i32.load16_u (local.get $p)) (i32.const 16))))
      (else (f32.load (local.get $p)))))

  ;; A(mc, kc) at src + (i*rs + k*cs) elements into 4-row panels, k-major; rows past mc are zero.
  (func (export "packA") (param $src i32) (param $bf16 i32) (param $rs i32) (param $cs i32)
    (param $mc i32) (param $kc i32) (param $dst i32)
    (local $esz i32) (local $i0 i32) (local $k i32) (local $i i32) (local $col i32)
    (local.set $esz (select (i32.const 2) (i32.const 4) (local.get $bf16)))
    (block $pdone
      (loop $ploop
        (br_if $pdone (i32.ge_u (local.get $i0) (local.get $mc)))
        (local.set $k (i32.const 0))
        (block $kdone
          (loop $kloop
            (br_if $kdone (i32.ge_u (local.get $k) (local.get $kc)))
            (local.set $col
              (i32.add (local.get $src)
                (i32.mul (local.get $esz)
                  (i32.add (i32.mul (local.get $i0) (local.get $rs)) (i32.mul (local.get $k) (local.get $cs))))))
            (local.set $i (i32.const 0))
            (block $idone
              (loop $iloop
                (br_if $idone (i32.ge_u (local.get $i) (i32.const 4)))
                (f32.store (local.get $dst)
                  (select
                    (call $load
                      (i32.add (local.get $col) (i32.mul (local.get $esz) (i32.mul (local.get $i) (local.get $rs))))
                      (local.get $bf16))
                    (f32.const 0)
                    (i32.lt_u (i32.add (local.get $i0) (local.get $i)) (local.get $mc))))
                (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $iloop)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kloop)))
        (local.set $i0 (i32.add (local.get $i0) (i32.const 4)))
        (br $ploop))))

  ;; B(kc, nc) at src + (k*rs + j*cs) elements into 8-column panels, k-major; columns past nc
  ;; are zero. Row-major f32 B copies each panel row as two v128s, reading B row by row.
  (func (export "packB") (param $src i32) (param $bf16 i32) (param $rs i32) (param $cs i32)
    (param $kc i32) (param $nc i32) (param $dst i32)
    (local $esz i32) (local $full i32) (local $panelBytes i32) (local $k i32) (local $p i32)
    (local $row i32) (local $out i32) (local $j i32) (local $j0 i32) (local $cols i32)
    (local.set $esz (select (i32.const 2) (i32.const 4) (local.get $bf16)))
    (local.set $full (i32.shr_u (local.get $nc) (i32.const 3)))
    (local.set $panelBytes (i32.shl (local.get $kc) (i32.const 5)))
    (if (i32.and (i32.eq (local.get $cs) (i32.const 1)) (i32.eqz (local.get $bf16)))
      (then
        (block $kdone
          (loop $kloop
            (br_if $kdone (i32.ge_u (local.get $k) (local.get $kc)))
            (local.set $row (i32.add (local.get $src) (i32.shl (i32.mul (local.get $k) (local.get $rs)) (i32.const 2))))
            (local.set $out (i32.add (local.get $dst) (i32.shl (local.get $k) (i32.const 5))))
            (local.set $p (i32.const 0))
            (block $pdone
              (loop $ploop
                (br_if $pdone (i32.ge_u (local.get $p) (local.get $full)))
                (v128.store (local.get $out) (v128.load (local.get $row)))
                (v128.store offset=16 (local.get $out) (v128.load offset=16 (local.get $row)))
                (local.set $row (i32.add (local.get $row) (i32.const 32)))
                (local.set $out (i32.add (local.get $out) (local.get $panelBytes)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $ploop)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kloop)))
        (local.set $j0 (i32.shl (local.get $full) (i32.const 3))))
      (else (local.set $j0 (i32.const 0))))
    ;; Remaining panels (all of them unless the fast path ran), element by element.
    (block $pdone2
      (loop $ploop2
        (br_if $pdone2 (i32.ge_u (local.get $j0) (local.get $nc)))
        (local.set $cols (i32.sub (local.get $nc) (local.get $j0)))
        (if (i32.gt_u (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
        (local.set $out (i32.add (local.get $dst) (i32.mul (i32.shr_u (local.get $j0) (i32.const 3)) (local.get $panelBytes))))
        (local.set $k (i32.const 0))
        (block $kdone2
          (loop $kloop2
            (br_if $kdone2 (i32.ge_u (local.get $k) (local.get $kc)))
            (local.set $row
              (i32.add (local.get $src)
                (i32.mul (local.get $esz)
                  (i32.add (i32.mul (local.get $k) (local.get $rs)) (i32.mul (local.get $j0) (local.get $cs))))))
            (local.set $j (i32.const 0))
            (block $jdone
              (loop $jloop
                (br_if $jdone (i32.ge_u (local.get $j) (i32.const 8)))
                (f32.store (local.get $out)
                  (select
                    (call $load
                      (i32.add (local.get $row) (i32.mul (local.get $esz) (i32.mul (local.get $j) (local.get $cs))))
                      (local.get $bf16))
                    (f32.const 0)
                    (i32.lt_u (local.get $j) (local.get $cols))))
                (local.set $out (i32.add (local.get $out) (i32.const 4)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jloop)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kloop2)))
        (local.set $j0 (i32.add (local.get $j0) (i32.const 8)))
        (br $ploop2))))

  ;; count f32 at src to bf16 bits at dst, round to nearest even; NaN stays a quiet NaN.
  (func (export "toBf16") (param $src i32) (param $dst i32) (param $count i32)
    (local $u i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $count)))
        (local.set $u (i32.load (local.get $src)))
        (i32.store16 (local.get $dst)
          (if (result i32)
            (i32.and
              (i32.eq (i32.and (local.get $u) (i32.const 0x7f800000)) (i32.const 0x7f800000))
              (i32.ne (i32.and (local.get $u) (i32.const 0x007fffff)) (i32.const 0)))
            (then (i32.or (i32.shr_u (local.get $u) (i32.const 16)) (i32.const 0x0040)))
            (else
              (i32.shr_u
                (i32.add (local.get $u)
                  (i32.add (i32.const 0x7fff) (i32.and (i32.shr_u (local.get $u) (i32.const 16)) (i32.const 1))))
                (i32.const 16)))))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 2)))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $l)))))
