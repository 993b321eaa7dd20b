//! TODO(helper): lrn
