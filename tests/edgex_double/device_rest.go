package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
)

// restResources are the device-rest resources that accept a POST, by device then resource.
var restResources = map[string]map[string]string{
	"sample-numeric": {"int": "Int64", "float": "Float64"},
	"sample-json":    {"json": "Object"},
}

// restValue checks a posted value against its value type and formats it as EdgeX does.
func restValue(valueType, body string) (string, error) {
	text := strings.TrimSpace(body)
	switch valueType {
	case "Int64":
		v, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not an Int64", text)
		}
		return strconv.FormatInt(v, 10), nil
	case "Float64":
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not a Float64", text)
		}
		return formatFloat64(v), nil
	}
	return body, nil
}

// setupDeviceRest turns POSTed values into events on the bus.
func setupDeviceRest(_ context.Context, d *double) {
	b := d.connectBus(nil)
	d.mux.HandleFunc("POST /api/v3/resource/{device}/{resource}", func(w http.ResponseWriter, r *http.Request) {
		device, name := r.PathValue("device"), r.PathValue("resource")
		valueType, ok := restResources[device][name]
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("device %s has no resource %s that accepts a POST", device, name))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("cannot read body: %v", err))
			return
		}
		value, err := restValue(valueType, string(body))
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		topic := "edgex/events/device/device-rest/" + device + "/" + device + "/" + name
		if err := b.publishEvent(topic, newEvent(device, device, name, valueType, value)); err != nil {
			log.Printf("event %s/%s not published: %v", device, name, err)
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("cannot publish the event: %v", err))
			return
		}
		log.Printf("published %s/%s = %s on %s", device, name, value, topic)
		w.WriteHeader(http.StatusOK)
	})
}
