//go:build race

package warrentest

const raceEnabled = true
