//! TODO(helper): dense
