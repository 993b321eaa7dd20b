//! TODO(helper): loss
