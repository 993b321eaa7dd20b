//! TODO(helper): init
