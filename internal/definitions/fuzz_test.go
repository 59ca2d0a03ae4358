package definitions

import (
	"bytes"
	"testing"
)

// FuzzDefinitionsImport: any input either imports or fails with the broker
// exactly as it was (all or nothing), and never panics. What imports
// exports again, and that export imports again.
func FuzzDefinitionsImport(f *testing.F) {
	for _, s := range []string{
		rabbitExport,
		`{}`,
		`{"users": [{"name": "u", "password": "p", "tags": "a,b"}], "vhosts": [{"name": "v"}],
		  "permissions": [{"user": "u", "vhost": "v", "configure": ".*", "write": "", "read": "^x"}]}`,
		`{"vhosts": [{"name": "v", "limits": {"max-queues": 1}}], "queues": [{"name": "a", "vhost": "v"}, {"name": "b", "vhost": "v"}]}`,
		`{"exchanges": [{"name": "x", "vhost": "/", "type": "headers"}],
		  "bindings": [{"source": "x", "vhost": "/", "destination": "amq.fanout", "destination_type": "exchange", "arguments": {"x-match": "all", "k": [1, 2.5, null, {"n": true}]}}]}`,
		`{"policies": [{"vhost": "/", "name": "p", "pattern": "^q", "definition": {"max-length": 1}, "priority": "3"}],
		  "parameters": [{"vhost": "/", "component": "shovel", "name": "s", "value": [1, "x"]}],
		  "global_parameters": [{"name": "g", "value": null}]}`,
		`{"users": [{"name": "u", "password_hash": "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"}],
		  "topic_permissions": [{"user": "u", "vhost": "/", "exchange": "amq.topic", "write": "{username}", "read": "("}]}`,
		`{"queues": [{"name": "q", "vhost": "/", "arguments": {"x-max-length": 1e400}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBroker(t)
		before := export(t, b, "")
		if err := Import(b, data); err != nil {
			if after := export(t, b, ""); !bytes.Equal(before, after) {
				t.Fatalf("failed import (%v) changed the broker:\n%s", err, after)
			}
			return
		}
		out := export(t, b, "")
		c := newBroker(t)
		if err := Import(c, out); err != nil {
			t.Fatalf("export of an import does not import: %v\n%s", err, out)
		}
	})
}
