//! TODO(helper): approx
