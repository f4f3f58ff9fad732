//go:build tools

// Blank imports of the main packages we build, so that `go mod tidy` records their dependencies.
// The tag is never set: main packages cannot really be imported.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
