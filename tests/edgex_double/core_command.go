package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// setupCoreCommand forwards device commands to the device service that owns the
// device. Only device-virtual's devices are served this way.
func setupCoreCommand(_ context.Context, d *double) {
	client := &http.Client{Timeout: 5 * time.Second}
	forward := func(w http.ResponseWriter, r *http.Request) {
		name, command := r.PathValue("device"), r.PathValue("command")
		dev, ok := findDevice(name)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("device %s does not exist", name))
			return
		}
		if dev.ServiceName != "device-virtual" {
			writeError(w, http.StatusNotFound, fmt.Sprintf("device %s of %s has no commands in this test double", name, dev.ServiceName))
			return
		}
		target := url.URL{
			Scheme:   "http",
			Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[dev.ServiceName])),
			Path:     "/api/v3/device/name/" + name + "/" + command,
			RawPath:  "/api/v3/device/name/" + url.PathEscape(name) + "/" + url.PathEscape(command),
			RawQuery: r.URL.RawQuery,
		}
		request, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), r.Body)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		if contentType := r.Header.Get("Content-Type"); contentType != "" {
			request.Header.Set("Content-Type", contentType)
		}
		response, err := client.Do(request)
		if err != nil {
			log.Printf("forwarding %s %s to %s failed: %v", r.Method, r.URL.Path, dev.ServiceName, err)
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%s did not answer: %v", dev.ServiceName, err))
			return
		}
		defer response.Body.Close()
		if contentType := response.Header.Get("Content-Type"); contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(response.StatusCode)
		if _, err := io.Copy(w, response.Body); err != nil {
			log.Printf("relaying the answer of %s failed: %v", dev.ServiceName, err)
		}
	}
	d.mux.HandleFunc("GET /api/v3/device/name/{device}/{command}", forward)
	d.mux.HandleFunc("PUT /api/v3/device/name/{device}/{command}", forward)
}
