package ctl

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
)

// export_definitions and import_definitions, over GET and POST
// /api/definitions. Only the JSON format: the compressed Erlang term
// format is rabbitmqctl's own.

func definitionVerbs() []*verb {
	format := func(fs *pflag.FlagSet, f *verbFlags) { fs.StringVar(&f.format, "format", "json", "") }
	return []*verb{
		{
			name: "export_definitions", group: "Definitions", min: 1, max: 1,
			usage: `<file_path | "-"> [--format <json>] [--timeout <timeout>]`,
			short: "Exports definitions in JSON",
			args: `<file>
	Local file path to export to. Pass a dash (-) for stdout.
--format
	output format to use: json
`,
			flags: format,
			run:   exportDefinitions,
		},
		{
			name: "import_definitions", group: "Definitions", max: 1,
			usage: `<file_path | "-"> [--format <json>] [--skip-if-unchanged] [--timeout <timeout>]`,
			short: "Imports definitions in JSON",
			args: `[file]
	Local file path to import from. If omitted will be read from standard input
--format
	input format to use: json
--skip-if-unchanged
	accepted for rabbitmqctl scripts; the definitions are always imported
`,
			flags: func(fs *pflag.FlagSet, f *verbFlags) {
				format(fs, f)
				fs.BoolVar(&f.skipIfUnchanged, "skip-if-unchanged", false, "")
			},
			run: importDefinitions,
		},
	}
}

func (c *cmd) checkFormat() error {
	if c.flags.format != "json" {
		return usageErr("format %q is not supported: warren ctl reads and writes definitions as JSON (--format json)", c.flags.format)
	}
	return nil
}

func exportDefinitions(c *cmd) error {
	if err := c.checkFormat(); err != nil {
		return err
	}
	path := c.args[0]
	if path != "-" {
		dir := filepath.Dir(path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return &Error{Code: ExitDataErr, usage: true, Msg: "Bad argument: Directory " + dir + " does not exist"}
		}
		c.info("Exporting definitions in JSON to a file at %s ...", q(path))
	}
	data, err := c.cli.do(c.ctx, http.MethodGet, apiPath("definitions"), nil, nil)
	if err != nil {
		return err
	}
	if _, err := decodeValue(data); err != nil {
		return &badAnswer{apiPath("definitions"), err}
	}
	if path == "-" {
		_, err := c.stdout.Write(data)
		return err
	}
	// The file holds password hashes: readable by its owner only.
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return failure(ExitCantCreate, "%v", err)
	}
	return nil
}

func importDefinitions(c *cmd) error {
	if err := c.checkFormat(); err != nil {
		return err
	}
	var data []byte
	var err error
	if len(c.args) == 0 || c.args[0] == "-" {
		c.info("Importing definitions in JSON from standard input ...")
		if data, err = io.ReadAll(c.env.Stdin); err != nil {
			return failure(ExitNoInput, "reading standard input: %v", err)
		}
	} else {
		path := c.args[0]
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return &Error{Code: ExitDataErr, usage: true, Msg: "Bad argument: File " + path + " does not exist"}
		}
		c.info("Importing definitions in JSON from a file at %s ...", q(path))
		if data, err = os.ReadFile(path); err != nil {
			return failure(ExitNoInput, "%v", err)
		}
	}
	v, err := decodeValue(data)
	if err != nil {
		return failure(ExitDataErr, "Failed to deserialise input (format: JSON) (error: %v)", err)
	}
	if _, ok := v.(*object); !ok {
		return failure(ExitDataErr, "Failed to deserialise input (format: JSON) (error: definitions must be a JSON object, not %s)", describe(v))
	}
	if _, err := c.cli.do(c.ctx, http.MethodPost, apiPath("definitions"), nil, data); err != nil {
		return err
	}
	c.info("Successfully imported definitions.")
	return nil
}
