//! TODO(helper): proxy
