//! TODO(helper): tls_proxy
