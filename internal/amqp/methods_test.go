package amqp

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// equal is reflect.DeepEqual that also treats NaNs (which decoded tables
// may hold) as equal: fmt prints maps with sorted keys.
func equal(a, b any) bool {
	return reflect.DeepEqual(a, b) || fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}

func TestAllMethodsCoverSpec(t *testing.T) {
	ms := allMethods()
	if len(ms) != 64 {
		t.Errorf("got %d methods, want 64", len(ms))
	}
	seen := map[[2]uint16]bool{}
	for _, m := range ms {
		id := [2]uint16{m.ClassID(), m.MethodID()}
		if seen[id] {
			t.Errorf("%s: duplicate id %v", m.Name(), id)
		}
		seen[id] = true
		if got := NewMethod(id[0], id[1]); reflect.TypeOf(got) != reflect.TypeOf(m) {
			t.Errorf("NewMethod%v = %T, want %T", id, got, m)
		}
		if got := MethodName(id[0], id[1]); got != m.Name() {
			t.Errorf("MethodName%v = %q, want %q", id, got, m.Name())
		}
		// Every field has a non-zero value, so round trips prove each one.
		v := reflect.ValueOf(m).Elem()
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).IsZero() {
				t.Errorf("%s: field %s is zero in allMethods", m.Name(), v.Type().Field(i).Name)
			}
		}
	}
	if NewMethod(60, 41) != nil || NewMethod(11, 10) != nil || MethodName(0, 0) != "" {
		t.Error("unknown ids must give nil / \"\"")
	}
	want := map[string]bool{"basic.publish": true, "basic.deliver": true, "basic.get-ok": true, "basic.return": true}
	for _, m := range ms {
		if m.HasContent() != want[m.Name()] {
			t.Errorf("%s: HasContent = %v", m.Name(), m.HasContent())
		}
	}
}

func TestMethodRoundTrip(t *testing.T) {
	for _, m := range allMethods() {
		t.Run(m.Name(), func(t *testing.T) {
			frame := AppendMethodFrame([]byte{0xAA}, 7, m)[1:]
			r := NewReader(bytes.NewReader(frame), 0)
			r.SetMaxFrameSize(0)
			f, err := r.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			if f.Type != FrameMethod || f.Channel != 7 {
				t.Fatalf("frame %d/%d", f.Type, f.Channel)
			}
			got, err := DecodeMethod(f.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(got, m) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
			}
			// Decode into a used struct overwrites every field.
			reuse := NewMethod(m.ClassID(), m.MethodID())
			if err := reuse.Decode(m.Encode(nil)); err != nil || !equal(reuse, m) {
				t.Fatalf("reuse decode: %v %#v", err, reuse)
			}

			args := m.Encode(nil)
			for n := 0; n < len(args); n++ {
				err := NewMethod(m.ClassID(), m.MethodID()).Decode(args[:n])
				var ae *Error
				if !errors.As(err, &ae) || ae.Code != ReplyFrameError || !ae.Hard() ||
					ae.ClassID != m.ClassID() || ae.MethodID != m.MethodID() ||
					!strings.HasPrefix(ae.Text, "FRAME_ERROR - cannot decode "+m.Name()) {
					t.Fatalf("truncated to %d/%d bytes: err = %v", n, len(args), err)
				}
			}
			if err := NewMethod(m.ClassID(), m.MethodID()).Decode(append(args, 0)); err == nil {
				t.Fatal("trailing byte accepted")
			}
		})
	}
}

func TestMethodWireFormat(t *testing.T) {
	tests := []struct {
		m    Method
		want []byte
	}{
		{&BasicPublish{Exchange: "x", RoutingKey: "rk", Immediate: true},
			[]byte{0, 60, 0, 40, 0, 0, 1, 'x', 2, 'r', 'k', 0b10}},
		{&QueueDeclare{Queue: "q", Durable: true, AutoDelete: true, NoWait: true},
			[]byte{0, 50, 0, 10, 0, 0, 1, 'q', 0b11010, 0, 0, 0, 0}},
		{&BasicNack{DeliveryTag: 0x0102030405060708, Requeue: true},
			[]byte{0, 60, 0, 120, 1, 2, 3, 4, 5, 6, 7, 8, 0b10}},
		{&ConnectionTune{ChannelMax: 2047, FrameMax: 131072, Heartbeat: 60},
			[]byte{0, 10, 0, 30, 0x07, 0xFF, 0, 2, 0, 0, 0, 60}},
		{&ConfirmSelect{NoWait: true}, []byte{0, 85, 0, 10, 1}},
		{&ChannelOpenOk{}, []byte{0, 20, 0, 11, 0, 0, 0, 0}},
		{&TxSelect{}, []byte{0, 90, 0, 10}},
	}
	for _, tt := range tests {
		frame := AppendMethodFrame(nil, 0x0102, tt.m)
		want := append([]byte{FrameMethod, 1, 2, 0, 0, 0, byte(len(tt.want))}, tt.want...)
		want = append(want, FrameEnd)
		if !bytes.Equal(frame, want) {
			t.Errorf("%s:\n got % x\nwant % x", tt.m.Name(), frame, want)
		}
	}
}

func TestDecodeMethodErrors(t *testing.T) {
	var ae *Error
	_, err := DecodeMethod([]byte{0, 60, 0, 41})
	if !errors.As(err, &ae) || ae.Code != ReplyCommandInvalid || !ae.Hard() || ae.ClassID != 60 || ae.MethodID != 41 ||
		!strings.HasPrefix(ae.Text, "COMMAND_INVALID - unknown method") {
		t.Errorf("unknown method: %v", err)
	}
	for _, p := range [][]byte{nil, {0}, {0, 60, 0}} {
		if _, err := DecodeMethod(p); !errors.As(err, &ae) || ae.Code != ReplyFrameError {
			t.Errorf("payload % x: %v", p, err)
		}
	}
}

func TestReplyCodes(t *testing.T) {
	tests := []struct {
		code uint16
		name string
		hard bool
	}{
		{ReplySuccess, "REPLY_SUCCESS", false},
		{ReplyContentTooLarge, "CONTENT_TOO_LARGE", false},
		{ReplyNoRoute, "NO_ROUTE", false},
		{ReplyNoConsumers, "NO_CONSUMERS", false},
		{ReplyConnectionForced, "CONNECTION_FORCED", true},
		{ReplyInvalidPath, "INVALID_PATH", true},
		{ReplyAccessRefused, "ACCESS_REFUSED", false},
		{ReplyNotFound, "NOT_FOUND", false},
		{ReplyResourceLocked, "RESOURCE_LOCKED", false},
		{ReplyPreconditionFailed, "PRECONDITION_FAILED", false},
		{ReplyFrameError, "FRAME_ERROR", true},
		{ReplySyntaxError, "SYNTAX_ERROR", true},
		{ReplyCommandInvalid, "COMMAND_INVALID", true},
		{ReplyChannelError, "CHANNEL_ERROR", true},
		{ReplyUnexpectedFrame, "UNEXPECTED_FRAME", true},
		{ReplyResourceError, "RESOURCE_ERROR", true},
		{ReplyNotAllowed, "NOT_ALLOWED", true},
		{ReplyNotImplemented, "NOT_IMPLEMENTED", true},
		{ReplyInternalError, "INTERNAL_ERROR", true},
	}
	for _, tt := range tests {
		if got := ReplyName(tt.code); got != tt.name {
			t.Errorf("ReplyName(%d) = %q, want %q", tt.code, got, tt.name)
		}
		if got := IsHardCode(tt.code); got != tt.hard {
			t.Errorf("IsHardCode(%d) = %v", tt.code, got)
		}
	}
	if ReplyName(999) != "" || IsHardCode(999) {
		t.Error("unknown code")
	}
	codes := map[int]int{
		ReplySuccess: 200, ReplyContentTooLarge: 311, ReplyNoRoute: 312, ReplyNoConsumers: 313,
		ReplyConnectionForced: 320, ReplyInvalidPath: 402, ReplyAccessRefused: 403, ReplyNotFound: 404,
		ReplyResourceLocked: 405, ReplyPreconditionFailed: 406, ReplyFrameError: 501, ReplySyntaxError: 502,
		ReplyCommandInvalid: 503, ReplyChannelError: 504, ReplyUnexpectedFrame: 505, ReplyResourceError: 506,
		ReplyNotAllowed: 530, ReplyNotImplemented: 540, ReplyInternalError: 541,
	}
	for got, want := range codes {
		if got != want {
			t.Errorf("reply code %d, want %d", got, want)
		}
	}
	ids := []int{ClassConnection, 10, ClassChannel, 20, ClassExchange, 40, ClassQueue, 50, ClassBasic, 60, ClassTx, 90, ClassConfirm, 85}
	for i := 0; i < len(ids); i += 2 {
		if ids[i] != ids[i+1] {
			t.Errorf("class id %d, want %d", ids[i], ids[i+1])
		}
	}
}

func TestEncodeLenient(t *testing.T) {
	// Encode cannot fail: over-long short strings are truncated and
	// unsupported table values become void.
	m := &QueueDeclare{Queue: strings.Repeat("q", 300), Arguments: Table{"bad": struct{}{}, "ok": "v"}}
	var got QueueDeclare
	if err := got.Decode(m.Encode(nil)); err != nil {
		t.Fatal(err)
	}
	if len(got.Queue) != 255 || got.Arguments["bad"] != nil || got.Arguments["ok"] != "v" {
		t.Fatalf("%#v", got)
	}
}
