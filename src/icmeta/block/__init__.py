"""A block's aggregated tables: a run's rows in any of them (`run_rows`), runs pooled per cell
(`cells`), the runs page (`report`), the paper's claims measured on published blocks (`claims`) and
phases re-detected under neighbouring detector settings (`detector_sweep`)."""
