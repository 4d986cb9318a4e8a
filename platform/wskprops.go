package platform

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteWskprops writes a wskprops file (APIHOST, AUTH, NAMESPACE) that wsk
// and whisk.LoadConfig read, replacing path atomically.
func WriteWskprops(path, apiHost string, u User) error {
	content := fmt.Sprintf("APIHOST=%s\nAUTH=%s\nNAMESPACE=%s\n", apiHost, u.Key, u.Namespace)
	f, err := os.CreateTemp(filepath.Dir(path), ".wskprops-*")
	if err != nil {
		return fmt.Errorf("write wskprops: %w", err)
	}
	tmp := f.Name()
	_, werr := f.WriteString(content)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o600)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write wskprops: %w", werr)
	}
	return nil
}
