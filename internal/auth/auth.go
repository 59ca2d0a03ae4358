// Package auth is how clients prove who they are: RabbitMQ-compatible
// password hashes, the SASL mechanisms AMQP clients log in with (PLAIN,
// AMQPLAIN, EXTERNAL) and the loopback and certificate rules. The users
// themselves, their tags and permissions are metadata kept by the broker.
package auth

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"net"
	"slices"
)

// Hashing algorithms, named as RabbitMQ's modules (the hashing_algorithm
// of a user in definitions).
const (
	SHA256 = "rabbit_password_hashing_sha256" // RabbitMQ's default since 3.6
	SHA512 = "rabbit_password_hashing_sha512"
	MD5    = "rabbit_password_hashing_md5" // definitions from RabbitMQ before 3.6
)

// DefaultAlgorithm is what new passwords are hashed with.
const DefaultAlgorithm = SHA256

// KnownAlgorithm reports whether alg is a hashing algorithm Warren
// understands; "" stands for the default.
func KnownAlgorithm(alg string) bool {
	return alg == "" || alg == SHA256 || alg == SHA512 || alg == MD5
}

func newHash(alg string) hash.Hash {
	switch alg {
	case SHA512:
		return sha512.New()
	case MD5:
		return md5.New()
	case "", SHA256:
		return sha256.New()
	}
	return nil
}

// HashPassword makes a RabbitMQ-compatible hash with the default
// algorithm: base64(salt + SHA-256(salt + password)), a 4-byte random salt.
func HashPassword(password string) string {
	h, _ := HashPasswordWith(DefaultAlgorithm, password)
	return h
}

// HashPasswordWith is HashPassword with a chosen algorithm.
func HashPasswordWith(alg, password string) (string, error) {
	if newHash(alg) == nil {
		return "", errors.New("unknown hashing algorithm " + alg)
	}
	var salt [4]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(saltedHash(alg, salt[:], password)), nil
}

func saltedHash(alg string, salt []byte, password string) []byte {
	h := newHash(alg)
	h.Write(salt)
	h.Write([]byte(password))
	return h.Sum(append([]byte(nil), salt...))
}

// CheckPassword is VerifyPassword with the default algorithm.
func CheckPassword(hashB64, password string) bool {
	return VerifyPassword(DefaultAlgorithm, hashB64, password)
}

// VerifyPassword reports whether password matches hash (made with alg; ""
// is the default), comparing in constant time. An empty hash (a cleared
// password) matches nothing.
func VerifyPassword(alg, hashB64, password string) bool {
	if newHash(alg) == nil {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(hashB64)
	if err != nil || len(raw) < 5 {
		return false
	}
	want := saltedHash(alg, raw[:4], password)
	return subtle.ConstantTimeCompare(want, raw) == 1
}

// Errors of a login, for logs; clients see RabbitMQ's generic text.
var (
	ErrBadCredentials = errors.New("invalid credentials")
	ErrBlankPassword  = errors.New("blank password")
	ErrLoopbackOnly   = errors.New("user can only connect via localhost")
)

// LoopbackAllowed applies loopback_users: a listed user may connect only
// from a loopback address.
func LoopbackAllowed(user string, loopbackUsers []string, remote net.Addr) bool {
	return !slices.Contains(loopbackUsers, user) || IsLoopback(remote)
}

// IsLoopback reports whether addr is a loopback address.
func IsLoopback(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	case nil:
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
