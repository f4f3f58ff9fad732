# OpenBao for the secure EdgeX pod (ConfigMap <pod>-secure, key secret-store.hcl).
# Loopback only: the gateway passes the two token endpoints through, nothing else reaches it.
# No api_addr: EdgeX 4.0 accepts OpenBao JWTs only with the issuer "/v1/identity/oidc",
# which OpenBao writes when api_addr is unset (docs/secure-mode.md, gotcha 3).
listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = "true"
}
storage "file" {
  path = "/openbao/file"
}
disable_mlock     = true
default_lease_ttl = "168h"
max_lease_ttl     = "720h"
