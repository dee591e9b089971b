//! TODO(helper): hostile
