package main

import (
	"crypto/rand"
	"fmt"
	"time"
)

// Event is an EdgeX 4.0 event (dtos.Event) with simple readings.
type Event struct {
	APIVersion  string    `json:"apiVersion"`
	ID          string    `json:"id"`
	DeviceName  string    `json:"deviceName"`
	ProfileName string    `json:"profileName"`
	SourceName  string    `json:"sourceName"`
	Origin      int64     `json:"origin"`
	Readings    []Reading `json:"readings"`
}

// Reading is an EdgeX 4.0 simple reading: the value is always a string.
type Reading struct {
	ID           string `json:"id"`
	Origin       int64  `json:"origin"`
	DeviceName   string `json:"deviceName"`
	ResourceName string `json:"resourceName"`
	ProfileName  string `json:"profileName"`
	ValueType    string `json:"valueType"`
	Value        string `json:"value"`
}

// agedBy returns event as if it had been produced `age` earlier.
func agedBy(event Event, age time.Duration) Event {
	event.Origin -= age.Nanoseconds()
	readings := make([]Reading, len(event.Readings))
	for i, reading := range event.Readings {
		reading.Origin -= age.Nanoseconds()
		readings[i] = reading
	}
	event.Readings = readings
	return event
}

// newEvent makes an event with one reading of one resource.
func newEvent(device, profile, resource, valueType, value string) Event {
	origin := time.Now().UnixNano()
	return Event{
		APIVersion:  apiVersion,
		ID:          newUUID(),
		DeviceName:  device,
		ProfileName: profile,
		SourceName:  resource,
		Origin:      origin,
		Readings: []Reading{{
			ID:           newUUID(),
			Origin:       origin,
			DeviceName:   device,
			ResourceName: resource,
			ProfileName:  profile,
			ValueType:    valueType,
			Value:        value,
		}},
	}
}

// Device is a device as core-metadata describes it.
type Device struct {
	Name           string `json:"name"`
	ServiceName    string `json:"serviceName"`
	ProfileName    string `json:"profileName"`
	AdminState     string `json:"adminState"`
	OperatingState string `json:"operatingState"`
}

func device(name, service, profile string) Device {
	return Device{Name: name, ServiceName: service, ProfileName: profile, AdminState: "UNLOCKED", OperatingState: "UP"}
}

// catalogue is every device the double's services have, as EdgeX 4.0 ships them by default.
var catalogue = []Device{
	device("Random-Boolean-Device", "device-virtual", "Random-Boolean-Device"),
	device("Random-Integer-Device", "device-virtual", "Random-Integer-Device"),
	device("Random-UnsignedInteger-Device", "device-virtual", "Random-UnsignedInteger-Device"),
	device("Random-Float-Device", "device-virtual", "Random-Float-Device"),
	device("sample-json", "device-rest", "sample-json"),
	device("sample-image", "device-rest", "sample-image"),
	device("sample-numeric", "device-rest", "sample-numeric"),
	device("2way-rest-device", "device-rest", "2way-rest-device"),
	device("MQTT-test-device", "device-mqtt", "Test-Device-MQTT-Profile"),
}

// findDevice returns the catalogue entry called name.
func findDevice(name string) (Device, bool) {
	for _, d := range catalogue {
		if d.Name == name {
			return d, true
		}
	}
	return Device{}, false
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
