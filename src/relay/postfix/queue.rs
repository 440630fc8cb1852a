//! The deferred queue, grouped by destination (`postqueue -j`).
