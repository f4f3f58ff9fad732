package main

import (
	"context"
	"fmt"
	"net/http"
)

type devicesResponse struct {
	APIVersion string   `json:"apiVersion"`
	StatusCode int      `json:"statusCode"`
	TotalCount int      `json:"totalCount"`
	Devices    []Device `json:"devices"`
}

type deviceResponse struct {
	APIVersion string `json:"apiVersion"`
	StatusCode int    `json:"statusCode"`
	Device     Device `json:"device"`
}

// setupCoreMetadata serves the fixed device catalogue.
func setupCoreMetadata(_ context.Context, d *double) {
	list := func(w http.ResponseWriter, r *http.Request, service string) {
		offset, limit, err := pageParams(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		devices := []Device{}
		for _, dev := range catalogue {
			if service == "" || dev.ServiceName == service {
				devices = append(devices, dev)
			}
		}
		selected := append([]Device{}, page(devices, offset, limit)...)
		writeJSON(w, http.StatusOK, devicesResponse{apiVersion, http.StatusOK, len(devices), selected})
	}
	d.mux.HandleFunc("GET /api/v3/device/all", func(w http.ResponseWriter, r *http.Request) {
		list(w, r, "")
	})
	d.mux.HandleFunc("GET /api/v3/device/service/name/{service}", func(w http.ResponseWriter, r *http.Request) {
		list(w, r, r.PathValue("service"))
	})
	d.mux.HandleFunc("GET /api/v3/device/name/{name}", func(w http.ResponseWriter, r *http.Request) {
		dev, ok := findDevice(r.PathValue("name"))
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("device %s does not exist", r.PathValue("name")))
			return
		}
		writeJSON(w, http.StatusOK, deviceResponse{apiVersion, http.StatusOK, dev})
	})
}
