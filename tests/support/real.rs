//! TODO(helper): real
