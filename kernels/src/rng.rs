//! TODO(helper): rng
