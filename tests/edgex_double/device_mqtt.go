package main

import (
	"context"
	"log"
	"os"
	"strconv"
	"strings"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

const (
	mqttDevice  = "MQTT-test-device"
	mqttProfile = "Test-Device-MQTT-Profile"
	// faultEnv, set in a faulty image variant, lists the faults it injects (comma-separated):
	// faultDropIngest makes device-mqtt drop every incoming value, faultIgnorePut makes device-virtual
	// ignore WriteInt8Value, faultStaleEvents makes device-virtual's autoevents an hour old. The
	// harness's tests use them to see smoke checks fail as product failures.
	faultEnv         = "EDGEX_DOUBLE_FAULT"
	faultDropIngest  = "device-mqtt-drops-ingest"
	faultIgnorePut   = "device-virtual-ignores-put"
	faultStaleEvents = "device-virtual-stale-events"
)

// faulty reports whether the image injects `fault`.
func faulty(fault string) bool {
	for _, injected := range strings.Split(os.Getenv(faultEnv), ",") {
		if injected == fault {
			return true
		}
	}
	return false
}

// mqttValue maps a resource and its payload to a value type and an EdgeX-formatted value.
func mqttValue(resource, payload string) (valueType, value string, err error) {
	text := strings.TrimSpace(payload)
	switch resource {
	case "randfloat32":
		v, err := strconv.ParseFloat(text, 32)
		if err != nil {
			return "", "", err
		}
		return "Float32", formatFloat32(float32(v)), nil
	case "randfloat64":
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return "", "", err
		}
		return "Float64", formatFloat64(v), nil
	}
	return "String", payload, nil
}

// setupDeviceMQTT turns publishes on incoming/data/MQTT-test-device/<resource> into events.
func setupDeviceMQTT(_ context.Context, d *double) {
	dropAll := faulty(faultDropIngest)
	if dropAll {
		log.Printf("fault injected (%s=%s): every incoming value is dropped", faultEnv, faultDropIngest)
	}
	d.connectBus(map[string]mqtt.MessageHandler{
		"incoming/data/#": func(_ mqtt.Client, message mqtt.Message) {
			if dropAll {
				log.Printf("dropped message on %s: fault injected", message.Topic())
				return
			}
			levels := strings.Split(message.Topic(), "/")
			if len(levels) != 4 || levels[2] != mqttDevice {
				log.Printf("dropped message on %s: not incoming/data/%s/<resource>", message.Topic(), mqttDevice)
				return
			}
			resource := levels[3]
			valueType, value, err := mqttValue(resource, string(message.Payload()))
			if err != nil {
				log.Printf("dropped message on %s: %v", message.Topic(), err)
				return
			}
			topic := "edgex/events/device/device-mqtt/" + mqttProfile + "/" + mqttDevice + "/" + resource
			if err := d.bus.publishEvent(topic, newEvent(mqttDevice, mqttProfile, resource, valueType, value)); err != nil {
				log.Printf("event %s/%s not published: %v", mqttDevice, resource, err)
				return
			}
			log.Printf("published %s/%s = %s on %s", mqttDevice, resource, value, topic)
		},
	})
}
