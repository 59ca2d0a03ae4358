package amqp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Properties are the basic-class content properties. Flags records which
// were present on the wire (bit 15 = content-type … bit 2 = cluster-id), so
// a decode/encode round trip is exact.
type Properties struct {
	Flags           uint16
	ContentType     string
	ContentEncoding string
	Headers         Table
	DeliveryMode    uint8
	Priority        uint8
	CorrelationID   string
	ReplyTo         string
	Expiration      string
	MessageID       string
	Timestamp       time.Time
	Type            string
	UserID          string
	AppID           string
	ClusterID       string
}

// Property flag bits, as in the spec's basic class.
const (
	FlagContentType     = 0x8000
	FlagContentEncoding = 0x4000
	FlagHeaders         = 0x2000
	FlagDeliveryMode    = 0x1000
	FlagPriority        = 0x0800
	FlagCorrelationID   = 0x0400
	FlagReplyTo         = 0x0200
	FlagExpiration      = 0x0100
	FlagMessageID       = 0x0080
	FlagTimestamp       = 0x0040
	FlagType            = 0x0020
	FlagUserID          = 0x0010
	FlagAppID           = 0x0008
	FlagClusterID       = 0x0004
)

// flagsKnown are the 14 basic properties; bit 1 is unused and bit 0 is the
// flag-continuation bit.
const (
	flagsKnown        = 0xFFFC
	flagContinuation  = 0x0001
	propsHeaderPrefix = 12 // class-id(2) + weight(2) + body-size(8)
)

// ErrPropertyTooLong is returned by AppendProperties for a short-string
// property longer than 255 bytes.
var ErrPropertyTooLong = errors.New("amqp: short-string property longer than 255 bytes")

func propsError(format string, args ...any) *Error {
	return &Error{Code: ReplyFrameError, Text: "FRAME_ERROR - " + fmt.Sprintf(format, args...), ClassID: ClassBasic}
}

// flags is p.Flags OR'ed with the flags of the non-zero fields.
func (p *Properties) flags() uint16 {
	f := p.Flags & flagsKnown
	set := func(cond bool, bit uint16) {
		if cond {
			f |= bit
		}
	}
	set(p.ContentType != "", FlagContentType)
	set(p.ContentEncoding != "", FlagContentEncoding)
	set(p.Headers != nil, FlagHeaders)
	set(p.DeliveryMode != 0, FlagDeliveryMode)
	set(p.Priority != 0, FlagPriority)
	set(p.CorrelationID != "", FlagCorrelationID)
	set(p.ReplyTo != "", FlagReplyTo)
	set(p.Expiration != "", FlagExpiration)
	set(p.MessageID != "", FlagMessageID)
	set(!p.Timestamp.IsZero(), FlagTimestamp)
	set(p.Type != "", FlagType)
	set(p.UserID != "", FlagUserID)
	set(p.AppID != "", FlagAppID)
	set(p.ClusterID != "", FlagClusterID)
	return f
}

// AppendProperties appends the property flags and the values of the
// present properties: those whose flag is in p.Flags or whose field is
// non-zero. This is the tail of a content-header payload (see
// AppendHeaderFrame). On error dst is returned unchanged.
func AppendProperties(dst []byte, p *Properties) ([]byte, error) {
	orig := dst
	f := p.flags()
	dst = binary.BigEndian.AppendUint16(dst, f)
	var err error
	str := func(bit uint16, s string) {
		if f&bit == 0 || err != nil {
			return
		}
		if len(s) > 255 {
			err = ErrPropertyTooLong
			return
		}
		dst = appendShortstr(dst, s)
	}
	str(FlagContentType, p.ContentType)
	str(FlagContentEncoding, p.ContentEncoding)
	if f&FlagHeaders != 0 && err == nil {
		dst, err = appendTable(dst, p.Headers, 0, true)
	}
	if f&FlagDeliveryMode != 0 {
		dst = append(dst, p.DeliveryMode)
	}
	if f&FlagPriority != 0 {
		dst = append(dst, p.Priority)
	}
	str(FlagCorrelationID, p.CorrelationID)
	str(FlagReplyTo, p.ReplyTo)
	str(FlagExpiration, p.Expiration)
	str(FlagMessageID, p.MessageID)
	if f&FlagTimestamp != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(p.Timestamp.Unix()))
	}
	str(FlagType, p.Type)
	str(FlagUserID, p.UserID)
	str(FlagAppID, p.AppID)
	str(FlagClusterID, p.ClusterID)
	if err != nil {
		return orig, err
	}
	return dst, nil
}

// readPropertyFlags reads the flag words. Extra words announced by the
// continuation bit are skipped if they are empty (the basic class has only
// 14 properties); a set bit for an unknown property is an error, since its
// value could not be skipped.
func readPropertyFlags(b []byte) (flags uint16, n int, err error) {
	for i := 0; ; i++ {
		if len(b)-n < 2 {
			return 0, 0, propsError("cannot decode content properties: short flags")
		}
		w := binary.BigEndian.Uint16(b[n:])
		n += 2
		if i == 0 {
			flags = w
		} else if w&^flagContinuation != 0 {
			return 0, 0, propsError("content property flags 0x%04x in word %d are unknown", w, i)
		}
		if w&flagContinuation == 0 {
			break
		}
	}
	if flags&^(flagsKnown|flagContinuation) != 0 {
		return 0, 0, propsError("content property flag 0x0002 is unknown")
	}
	return flags & flagsKnown, n, nil
}

// Decode decodes property flags and values (a content-header payload after
// the body size) into p, replacing its contents, and returns the number of
// bytes read. Strings and headers are copies; a string equal to the one p
// held before is kept, so decoding into a reused Properties allocates only
// for values that change (and for headers).
func (p *Properties) Decode(b []byte) (int, error) {
	old := *p
	*p = Properties{}
	f, n, err := readPropertyFlags(b)
	if err != nil {
		return 0, err
	}
	d := decoder{b: b[n:]}
	p.Flags = f
	if f&FlagContentType != 0 {
		p.ContentType = d.shortstrReuse(old.ContentType)
	}
	if f&FlagContentEncoding != 0 {
		p.ContentEncoding = d.shortstrReuse(old.ContentEncoding)
	}
	if f&FlagHeaders != 0 {
		p.Headers = d.table()
	}
	if f&FlagDeliveryMode != 0 {
		p.DeliveryMode = d.octet()
	}
	if f&FlagPriority != 0 {
		p.Priority = d.octet()
	}
	if f&FlagCorrelationID != 0 {
		p.CorrelationID = d.shortstrReuse(old.CorrelationID)
	}
	if f&FlagReplyTo != 0 {
		p.ReplyTo = d.shortstrReuse(old.ReplyTo)
	}
	if f&FlagExpiration != 0 {
		p.Expiration = d.shortstrReuse(old.Expiration)
	}
	if f&FlagMessageID != 0 {
		p.MessageID = d.shortstrReuse(old.MessageID)
	}
	if f&FlagTimestamp != 0 {
		p.Timestamp = time.Unix(int64(d.longlong()), 0).UTC()
	}
	if f&FlagType != 0 {
		p.Type = d.shortstrReuse(old.Type)
	}
	if f&FlagUserID != 0 {
		p.UserID = d.shortstrReuse(old.UserID)
	}
	if f&FlagAppID != 0 {
		p.AppID = d.shortstrReuse(old.AppID)
	}
	if f&FlagClusterID != 0 {
		p.ClusterID = d.shortstrReuse(old.ClusterID)
	}
	if d.err != nil {
		*p = Properties{}
		return 0, propsError("cannot decode content properties: %v", d.err)
	}
	return len(b) - len(d.b), nil
}

// PropsSummary is what a broker needs from the properties to route and
// queue a message, read by ScanProperties without building a Table.
type PropsSummary struct {
	Flags        uint16
	DeliveryMode uint8 // 2 = persistent
	Priority     uint8
	HasPriority  bool
	Expiration   string // per-message TTL in milliseconds, as sent
	// Headers is the encoded headers table, including its 4-byte length
	// (pass it to ReadTable), aliasing raw; nil if absent.
	Headers []byte
	// UserID is the user-id property, aliasing raw; nil if absent.
	UserID []byte
}

// ScanProperties reads the routing-relevant properties from raw property
// flags and values (as returned by ParseHeader) and checks that every
// present value lies within raw. It allocates only for a non-empty
// Expiration; the headers table is bounds-checked but not decoded.
func ScanProperties(raw []byte) (PropsSummary, error) {
	var s PropsSummary
	f, n, err := readPropertyFlags(raw)
	if err != nil {
		return s, err
	}
	s.Flags = f
	d := decoder{b: raw[n:]}
	for bit := uint16(FlagContentType); bit > flagContinuation && d.err == nil; bit >>= 1 {
		if f&bit == 0 {
			continue
		}
		switch bit {
		case FlagHeaders:
			s.Headers = d.tableBytes()
		case FlagDeliveryMode:
			s.DeliveryMode = d.octet()
		case FlagPriority:
			s.Priority, s.HasPriority = d.octet(), true
		case FlagTimestamp:
			d.longlong()
		case FlagExpiration:
			if v := d.shortstrBytes(); len(v) > 0 {
				s.Expiration = string(v)
			}
		case FlagUserID:
			s.UserID = d.shortstrBytes()
		default:
			d.shortstrBytes()
		}
	}
	if err := d.err; err != nil {
		return PropsSummary{}, propsError("cannot decode content properties: %v", err)
	}
	return s, nil
}

// AppendHeaderFrame appends a content-header frame. rawProps is the
// property flags and values exactly as received (ParseHeader) or as built by
// AppendProperties, so a broker can forward them untouched.
func AppendHeaderFrame(dst []byte, channel, classID uint16, bodySize uint64, rawProps []byte) []byte {
	dst = append(dst, FrameHeader, byte(channel>>8), byte(channel))
	dst = binary.BigEndian.AppendUint32(dst, uint32(propsHeaderPrefix+len(rawProps)))
	dst = binary.BigEndian.AppendUint16(dst, classID)
	dst = append(dst, 0, 0) // weight
	dst = binary.BigEndian.AppendUint64(dst, bodySize)
	dst = append(dst, rawProps...)
	return append(dst, FrameEnd)
}

// ParseHeader splits a content-header frame payload. rawProps (flags and
// values) aliases payload; it is only checked to hold the flags word, use
// ScanProperties or Properties.Decode to validate it.
func ParseHeader(payload []byte) (classID uint16, bodySize uint64, rawProps []byte, err error) {
	if len(payload) < propsHeaderPrefix+2 {
		return 0, 0, nil, &Error{Code: ReplyFrameError, Text: fmt.Sprintf("FRAME_ERROR - content header of %d bytes is too short", len(payload))}
	}
	classID = binary.BigEndian.Uint16(payload)
	bodySize = binary.BigEndian.Uint64(payload[4:])
	return classID, bodySize, payload[propsHeaderPrefix:], nil
}
