package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// autoEventInterval is how often every device-virtual resource is published.
// Real device-virtual uses 10-30 s per device (15 s for Random-Integer-Device);
// the double uses a shorter interval so that tests are quick.
const autoEventInterval = 5 * time.Second

type resource struct {
	name      string
	valueType string
}

type virtualDevice struct {
	name      string // also its profile name
	resources []resource
}

var virtualDevices = []virtualDevice{
	{"Random-Boolean-Device", []resource{{"Bool", "Bool"}}},
	{"Random-Integer-Device", []resource{{"Int8", "Int8"}, {"Int16", "Int16"}, {"Int32", "Int32"}, {"Int64", "Int64"}}},
	{"Random-UnsignedInteger-Device", []resource{{"Uint8", "Uint8"}, {"Uint16", "Uint16"}, {"Uint32", "Uint32"}, {"Uint64", "Uint64"}}},
	{"Random-Float-Device", []resource{{"Float32", "Float32"}, {"Float64", "Float64"}}},
}

type commandResponse struct {
	APIVersion string `json:"apiVersion"`
	StatusCode int    `json:"statusCode"`
	Event      Event  `json:"event"`
}

// int8State is Random-Integer-Device's Int8: random, or fixed by WriteInt8Value.
type int8State struct {
	mu     sync.Mutex
	random bool
	value  int8
}

// virtualService is device-virtual: random readings, one writable resource.
type virtualService struct {
	writable int8State
}

// value returns the next reading of a resource as EdgeX formats it.
func (s *virtualService) value(device string, r resource) string {
	switch r.valueType {
	case "Bool":
		return strconv.FormatBool(rand.IntN(2) == 1)
	case "Int8":
		if device == "Random-Integer-Device" {
			s.writable.mu.Lock()
			defer s.writable.mu.Unlock()
			if !s.writable.random {
				return strconv.Itoa(int(s.writable.value))
			}
		}
		return strconv.Itoa(int(int8(rand.Uint32())))
	case "Int16":
		return strconv.Itoa(int(int16(rand.Uint32())))
	case "Int32":
		return strconv.Itoa(int(int32(rand.Uint32())))
	case "Int64":
		return strconv.FormatInt(int64(rand.Uint64()), 10)
	case "Uint8":
		return strconv.FormatUint(uint64(uint8(rand.Uint32())), 10)
	case "Uint16":
		return strconv.FormatUint(uint64(uint16(rand.Uint32())), 10)
	case "Uint32":
		return strconv.FormatUint(uint64(rand.Uint32()), 10)
	case "Uint64":
		return strconv.FormatUint(rand.Uint64(), 10)
	case "Float32":
		return formatFloat32(float32(rand.NormFloat64() * 1000))
	case "Float64":
		return formatFloat64(rand.NormFloat64() * 1000)
	}
	panic("no random value for value type " + r.valueType)
}

// writeInt8 applies a WriteInt8Value body: "Int8" fixes the value (and, as the
// real profile's default, turns randomization off); "EnableRandomization_Int8"
// "true" or "false" switches randomization.
func (s *virtualService) writeInt8(body map[string]string) error {
	if faulty(faultIgnorePut) {
		log.Printf("WriteInt8Value ignored: fault injected (%s=%s)", faultEnv, faultIgnorePut)
		return nil
	}
	value, hasValue := body["Int8"]
	enable, hasEnable := body["EnableRandomization_Int8"]
	if !hasValue && !hasEnable {
		return fmt.Errorf(`WriteInt8Value needs "Int8" or "EnableRandomization_Int8"`)
	}
	var parsed int64
	var random bool
	var err error
	if hasValue {
		if parsed, err = strconv.ParseInt(value, 10, 8); err != nil {
			return fmt.Errorf("Int8 value %q is not an Int8", value)
		}
	}
	if hasEnable {
		if random, err = strconv.ParseBool(enable); err != nil {
			return fmt.Errorf("EnableRandomization_Int8 %q is not true or false", enable)
		}
	}
	s.writable.mu.Lock()
	defer s.writable.mu.Unlock()
	if hasValue {
		s.writable.value = int8(parsed)
	}
	s.writable.random = random
	return nil
}

func findVirtual(device, command string) (virtualDevice, resource, bool) {
	for _, d := range virtualDevices {
		if d.name != device {
			continue
		}
		for _, r := range d.resources {
			if r.name == command {
				return d, r, true
			}
		}
	}
	return virtualDevice{}, resource{}, false
}

// setupDeviceVirtual publishes autoevents and serves the device-service command API.
func setupDeviceVirtual(ctx context.Context, d *double) {
	s := &virtualService{writable: int8State{random: true}}
	b := d.connectBus(nil)
	go func() {
		if !b.waitUp(ctx) {
			return
		}
		ticker := time.NewTicker(autoEventInterval)
		defer ticker.Stop()
		for {
			if !b.connected() {
				log.Printf("message bus not connected: autoevents skipped")
			} else {
				publishAutoEvents(s, b)
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()

	d.mux.HandleFunc("GET /api/v3/device/name/{device}/{command}", func(w http.ResponseWriter, r *http.Request) {
		dev, res, ok := findVirtual(r.PathValue("device"), r.PathValue("command"))
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("device %s has no read command %s", r.PathValue("device"), r.PathValue("command")))
			return
		}
		event := newEvent(dev.name, dev.name, res.name, res.valueType, s.value(dev.name, res))
		writeJSON(w, http.StatusOK, commandResponse{apiVersion, http.StatusOK, event})
	})
	d.mux.HandleFunc("PUT /api/v3/device/name/{device}/{command}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("device") != "Random-Integer-Device" || r.PathValue("command") != "WriteInt8Value" {
			writeError(w, http.StatusNotFound, fmt.Sprintf("device %s has no write command %s in this test double", r.PathValue("device"), r.PathValue("command")))
			return
		}
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("body is not a JSON object of strings: %v", err))
			return
		}
		if err := s.writeInt8(body); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		log.Printf("Random-Integer-Device WriteInt8Value %v", body)
		writeJSON(w, http.StatusOK, baseResponse{APIVersion: apiVersion, StatusCode: http.StatusOK})
	})
}

// publishAutoEvents publishes one event for every resource of every device.
func publishAutoEvents(s *virtualService, b *bus) {
	published := 0
	stale := faulty(faultStaleEvents)
	for _, dev := range virtualDevices {
		for _, r := range dev.resources {
			event := newEvent(dev.name, dev.name, r.name, r.valueType, s.value(dev.name, r))
			if stale {
				event = agedBy(event, time.Hour)
			}
			topic := "edgex/events/device/device-virtual/" + dev.name + "/" + dev.name + "/" + r.name
			if err := b.publishEvent(topic, event); err != nil {
				log.Printf("autoevent %s/%s not published: %v", dev.name, r.name, err)
				continue
			}
			published++
		}
	}
	log.Printf("published %d autoevents", published)
}

// formatFloat32 and formatFloat64 format floats as EdgeX readings do: exponent
// notation, shortest exact form (5.67 becomes "5.67e+00").
func formatFloat32(v float32) string { return strconv.FormatFloat(float64(v), 'e', -1, 32) }

func formatFloat64(v float64) string { return strconv.FormatFloat(v, 'e', -1, 64) }
