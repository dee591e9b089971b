//! TODO(helper): certs
