/** The knn job's configuration: a zod schema whose every field has a default. */
import { z } from 'zod';
import { DISTANCES } from './distance.js';

export const knnConfigSchema = z
  .object({
    /** Database rows (for a file dataset: the first n rows; 0 = all). */
    n: z.number().int().nonnegative().default(100_000),
    /** Dimensions (synthetic data; a file sets its own). */
    d: z.number().int().positive().max(65_536).default(128),
    k: z.number().int().positive().max(4096).default(10),
    recall_target: z.number().gt(0).lte(1).default(0.95),
    distance: z.enum(DISTANCES as unknown as readonly ['mips', 'l2', 'cosine']).default('mips'),
    /** Storage dtype of rows and queries; TPU-KNN keeps the database in bf16. */
    dtype: z.enum(['f32', 'bf16']).default('bf16'),
    /** Queries per batch. */
    batch: z.number().int().positive().default(1024),
    batches: z.number().int().positive().max(100_000).default(4),
    aggregate_to_topk: z.boolean().default(true),
    /** 'approx': approx_max_k (TPU-KNN); 'exact': sort-based lax.top_k, for comparison. */
    mode: z.enum(['approx', 'exact']).default('approx'),
    /** 'clusters' or 'sphere' (seeded synthetic), or a path to .fvecs/.bvecs/.npy rows. */
    dataset: z.string().min(1).default('clusters'),
    /** Query file for a file dataset (.fvecs/.bvecs/.npy); synthetic datasets draw their own. */
    queries: z.string().min(1).optional(),
    /** Ground-truth neighbor file (.ivecs/.npy) for the query file; computed exactly when absent. */
    ground_truth: z.string().min(1).optional(),
    seed: z.number().int().nonnegative().default(0),
    clusters: z.number().int().positive().default(64),
    /** Rows inserted and deleted between batches (into preallocated free slots; no rebuild). */
    inserts_per_batch: z.number().int().nonnegative().default(0),
    deletes_per_batch: z.number().int().nonnegative().default(0),
    /** Slots to preallocate; default n + every batch's inserts. */
    capacity: z.number().int().positive().optional(),
    /** A mesh axis to split each batch's queries over; the database is split over the other axes. */
    query_axis: z.string().min(1).optional(),
  })
  .strict();

export type KnnConfig = z.infer<typeof knnConfigSchema>;
