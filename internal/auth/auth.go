// Package auth holds users, their RabbitMQ-compatible password hashes and
// tags, and the SASL mechanisms AMQP clients log in with.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"sort"
	"sync"
)

// User is one account.
type User struct {
	Name         string
	PasswordHash string // base64(salt(4) + sha256(salt + password)), rabbit_password_hashing_sha256
	Tags         []string
}

// HashPassword makes a RabbitMQ-compatible salted SHA-256 hash.
func HashPassword(password string) string {
	var salt [4]byte
	if _, err := rand.Read(salt[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hashWithSalt(salt[:], password)
}

func hashWithSalt(salt []byte, password string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(append(append([]byte(nil), salt...), h.Sum(nil)...))
}

// CheckPassword compares in constant time.
func CheckPassword(hash, password string) bool {
	raw, err := base64.StdEncoding.DecodeString(hash)
	if err != nil || len(raw) != 4+sha256.Size {
		return false
	}
	want := hashWithSalt(raw[:4], password)
	return subtle.ConstantTimeCompare([]byte(want), []byte(hash)) == 1
}

// Errors of Authenticate.
var (
	ErrBadCredentials = errors.New("invalid credentials")
	ErrLoopbackOnly   = errors.New("user can only connect via localhost")
)

// Store is the set of users.
type Store struct {
	mu       sync.RWMutex
	users    map[string]*User
	loopback map[string]bool // users allowed from loopback only
}

// NewStore makes a store with the default user (if name is not empty),
// restricted to loopback when listed in loopbackUsers.
func NewStore(defaultUser, defaultPass string, loopbackUsers []string) *Store {
	s := &Store{users: map[string]*User{}, loopback: map[string]bool{}}
	for _, u := range loopbackUsers {
		s.loopback[u] = true
	}
	if defaultUser != "" {
		s.Put(&User{Name: defaultUser, PasswordHash: HashPassword(defaultPass), Tags: []string{"administrator"}})
	}
	return s
}

// Put adds or replaces a user.
func (s *Store) Put(u *User) {
	s.mu.Lock()
	s.users[u.Name] = u
	s.mu.Unlock()
}

// User looks a user up.
func (s *Store) User(name string) *User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.users[name]
}

// Users lists users by name.
func (s *Store) Users() []*User {
	s.mu.RLock()
	us := make([]*User, 0, len(s.users))
	for _, u := range s.users {
		us = append(us, u)
	}
	s.mu.RUnlock()
	sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
	return us
}

// Authenticate checks a name and password for a client at remote.
func (s *Store) Authenticate(name, password string, remote net.Addr) (*User, error) {
	u := s.User(name)
	if u == nil || !CheckPassword(u.PasswordHash, password) {
		return nil, ErrBadCredentials
	}
	s.mu.RLock()
	loopOnly := s.loopback[name]
	s.mu.RUnlock()
	if loopOnly && !IsLoopback(remote) {
		return nil, ErrLoopbackOnly
	}
	return u, nil
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
