//! TODO(helper): server
