package segment

import "os"

func unlockDir(f *os.File) {
	if f != nil {
		f.Close()
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
