package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// eventPayload is the payload of an event envelope: dtos/requests.AddEventRequest.
type eventPayload struct {
	APIVersion string `json:"apiVersion"`
	RequestID  string `json:"requestId"`
	Event      Event  `json:"event"`
}

// envelope is the EdgeX 4.0 MessageEnvelope, payload a JSON object (not base64).
type envelope struct {
	APIVersion    string          `json:"apiVersion"`
	ReceivedTopic string          `json:"receivedTopic"`
	CorrelationID string          `json:"correlationID"`
	RequestID     string          `json:"requestID"`
	ErrorCode     int             `json:"errorCode"`
	Payload       json.RawMessage `json:"payload"`
	ContentType   string          `json:"contentType"`
}

// bus is the service's MQTT client on the EdgeX message bus (QoS 0).
type bus struct {
	client mqtt.Client
	up     chan struct{} // closed once the first connection is made
}

// connectBus starts connecting to the broker as <service>-double and keeps
// retrying; handlers maps topic filters to handlers, subscribed on every
// (re)connection.
func (d *double) connectBus(handlers map[string]mqtt.MessageHandler) *bus {
	b := &bus{up: make(chan struct{})}
	var upOnce sync.Once
	options := mqtt.NewClientOptions().
		AddBroker(d.broker).
		SetClientID(d.name + "-double").
		SetCleanSession(true).
		SetKeepAlive(10 * time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(2 * time.Second).
		SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).
		SetConnectTimeout(5 * time.Second).
		SetOrderMatters(false). // handlers run in their own goroutines and may publish
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Printf("message bus connection lost: %v", err)
		}).
		SetOnConnectHandler(func(client mqtt.Client) {
			log.Printf("message bus connected to %s", d.broker)
			for topic, handler := range handlers {
				token := client.Subscribe(topic, 0, handler)
				if token.WaitTimeout(5*time.Second) && token.Error() == nil {
					log.Printf("subscribed to %s", topic)
				} else {
					log.Printf("cannot subscribe to %s: %v", topic, tokenError(token))
				}
			}
			upOnce.Do(func() { close(b.up) })
		})
	b.client = mqtt.NewClient(options)
	d.bus = b          // set before connecting: handlers may use d.bus
	b.client.Connect() // with ConnectRetry this completes only once connected; OnConnect reports it
	return b
}

// waitUp waits for the first connection; false if ctx ends first.
func (b *bus) waitUp(ctx context.Context) bool {
	select {
	case <-b.up:
		return true
	case <-ctx.Done():
		return false
	}
}

// connected reports whether the connection to the broker is up now.
func (b *bus) connected() bool {
	return b.client.IsConnectionOpen()
}

// publishEvent publishes an event in a MessageEnvelope on topic. It fails while
// the connection is down (paho would drop a QoS 0 message silently).
func (b *bus) publishEvent(topic string, event Event) error {
	if !b.connected() {
		return errors.New("not connected to the message bus")
	}
	requestID := newUUID()
	payload, err := json.Marshal(eventPayload{APIVersion: apiVersion, RequestID: requestID, Event: event})
	if err != nil {
		return err
	}
	message, err := json.Marshal(envelope{
		APIVersion:    apiVersion,
		CorrelationID: newUUID(),
		RequestID:     requestID,
		Payload:       payload,
		ContentType:   "application/json",
	})
	if err != nil {
		return err
	}
	token := b.client.Publish(topic, 0, false, message)
	if !token.WaitTimeout(2 * time.Second) {
		return errors.New("publish timed out")
	}
	return token.Error()
}

func (b *bus) close() {
	b.client.Disconnect(200)
}

// decodeEventEnvelope reads the event from a MessageEnvelope whose payload is a
// JSON object (4.x) or a base64 string of one (2.x/3.x).
func decodeEventEnvelope(raw []byte) (Event, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Event{}, err
	}
	payload := []byte(env.Payload)
	var encoded string
	if json.Unmarshal(env.Payload, &encoded) == nil {
		decoded, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return Event{}, errors.New("payload is a string but not base64")
		}
		payload = decoded
	}
	var p eventPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return Event{}, err
	}
	if p.Event.DeviceName == "" {
		return Event{}, errors.New("payload carries no event")
	}
	return p.Event, nil
}

func tokenError(token mqtt.Token) error {
	if err := token.Error(); err != nil {
		return err
	}
	return errors.New("timed out")
}
