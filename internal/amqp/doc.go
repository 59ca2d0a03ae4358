package amqp

// The method structs, class/method ids and reply codes are generated from
// the protocol XML by ./gen (see gen/main.go).
//go:generate go run ./gen -spec spec/amqp0-9-1.extended.xml -out .
