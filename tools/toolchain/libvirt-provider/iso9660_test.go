package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// isoContents is what an independent reading of an image finds.
type isoContents struct {
	label string
	files map[string]string
}

// readISO reads the root directory of the Joliet hierarchy (joliet) or the primary one,
// following the ISO 9660 layout from the volume descriptors on.
func readISO(t *testing.T, img []byte, joliet bool) isoContents {
	t.Helper()
	want := byte(1)
	if joliet {
		want = 2
	}
	for s := 16; ; s++ {
		if (s+1)*sectorSize > len(img) {
			t.Fatalf("no volume descriptor of type %d", want)
		}
		vd := img[s*sectorSize : (s+1)*sectorSize]
		if string(vd[1:6]) != "CD001" || vd[6] != 1 {
			t.Fatalf("sector %d is not a volume descriptor", s)
		}
		if vd[0] == 255 {
			t.Fatalf("no volume descriptor of type %d before the terminator", want)
		}
		if vd[0] != want {
			continue
		}
		if joliet && string(vd[88:91]) != "%/E" {
			t.Fatalf("Joliet descriptor without the UCS-2 escape: %q", vd[88:91])
		}
		if got := binary.LittleEndian.Uint32(vd[80:]); int(got)*sectorSize != len(img) {
			t.Errorf("volume space size %d sectors, image has %d bytes", got, len(img))
		}
		if binary.LittleEndian.Uint32(vd[80:]) != binary.BigEndian.Uint32(vd[84:]) {
			t.Error("volume space size: both-endian halves differ")
		}
		out := isoContents{label: decodeName(vd[40:72], joliet), files: map[string]string{}}
		root := vd[156:190]
		extent := binary.LittleEndian.Uint32(root[2:])
		size := binary.LittleEndian.Uint32(root[10:])
		checkPathTable(t, img, vd, extent)
		dir := img[int(extent)*sectorSize : int(extent)*sectorSize+int(size)]
		for off := 0; off < len(dir); {
			n := int(dir[off])
			if n == 0 { // rest of the sector is padding
				off = (off/sectorSize + 1) * sectorSize
				continue
			}
			rec := dir[off : off+n]
			idLen := int(rec[32])
			id := rec[33 : 33+idLen]
			off += n
			if idLen == 1 && (id[0] == 0 || id[0] == 1) {
				continue
			}
			if rec[25]&2 != 0 {
				t.Errorf("unexpected subdirectory %q", id)
				continue
			}
			at := int(binary.LittleEndian.Uint32(rec[2:])) * sectorSize
			length := int(binary.LittleEndian.Uint32(rec[10:]))
			name := decodeName(id, joliet)
			name = strings.TrimSuffix(strings.TrimSuffix(name, ";1"), ".")
			if !joliet {
				name = strings.ToLower(name)
			}
			out.files[name] = string(img[at : at+length])
		}
		return out
	}
}

func checkPathTable(t *testing.T, img, vd []byte, rootExtent uint32) {
	t.Helper()
	l := int(binary.LittleEndian.Uint32(vd[140:])) * sectorSize
	m := int(binary.BigEndian.Uint32(vd[148:])) * sectorSize
	if img[l] != 1 || binary.LittleEndian.Uint32(img[l+2:]) != rootExtent {
		t.Error("L path table does not name the root directory")
	}
	if img[m] != 1 || binary.BigEndian.Uint32(img[m+2:]) != rootExtent {
		t.Error("M path table does not name the root directory")
	}
}

func decodeName(b []byte, joliet bool) string {
	if !joliet {
		return strings.TrimRight(string(b), " ")
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return strings.TrimRight(string(utf16.Decode(units)), " ")
}

func seedFixture() cloudInitInputs {
	return cloudInitInputs{
		UserData:      "#cloud-config\nusers:\n  - name: ops\n" + strings.Repeat("# padding\n", 300),
		MetaData:      "instance-id: node1\nlocal-hostname: node1\n",
		NetworkConfig: "version: 2\nethernets:\n  eth0:\n    addresses: [10.231.90.11/24]\n",
	}
}

func TestISOHoldsTheSeedFilesUnderLabelCidata(t *testing.T) {
	in := seedFixture()
	img, err := buildISO(cidataLabel, in.seedFiles())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"user-data": in.UserData, "meta-data": in.MetaData, "network-config": in.NetworkConfig}
	for _, joliet := range []bool{true, false} {
		got := readISO(t, img, joliet)
		if got.label != "cidata" {
			t.Errorf("joliet=%v: label %q, want cidata", joliet, got.label)
		}
		if len(got.files) != len(want) {
			t.Errorf("joliet=%v: files %v", joliet, got.files)
		}
		for name, data := range want {
			if got.files[name] != data {
				t.Errorf("joliet=%v: %s = %q, want %q", joliet, name, got.files[name], data)
			}
		}
	}
	again, _ := buildISO(cidataLabel, in.seedFiles())
	if !bytes.Equal(img, again) {
		t.Error("the same seed gives a different image")
	}
}

func TestISOWithoutNetworkConfigHasTwoFiles(t *testing.T) {
	in := seedFixture()
	in.NetworkConfig = ""
	img, err := buildISO(cidataLabel, in.seedFiles())
	if err != nil {
		t.Fatal(err)
	}
	got := readISO(t, img, true)
	if len(got.files) != 2 || got.files["meta-data"] != in.MetaData {
		t.Errorf("files %v", got.files)
	}
}

func TestISODirectorySpansSectors(t *testing.T) {
	var files []isoFile
	for i := range 80 {
		files = append(files, isoFile{Name: fmt.Sprintf("file-number-%03d", i), Data: []byte(fmt.Sprint(i))})
	}
	files = append(files, isoFile{Name: "empty"})
	img, err := buildISO("many", files)
	if err != nil {
		t.Fatal(err)
	}
	for _, joliet := range []bool{true, false} {
		got := readISO(t, img, joliet)
		if len(got.files) != len(files) {
			t.Fatalf("joliet=%v: %d files, want %d", joliet, len(got.files), len(files))
		}
		if got.files["file-number-079"] != "79" || got.files["empty"] != "" {
			t.Errorf("joliet=%v: wrong contents", joliet)
		}
	}
}

func TestISORefusesBadInput(t *testing.T) {
	for _, c := range []struct {
		label string
		files []isoFile
	}{
		{"", nil},
		{"a-label-longer-than-16", nil},
		{"ok", []isoFile{{Name: "a/b"}}},
		{"ok", []isoFile{{Name: "x"}, {Name: "X"}}},
	} {
		if _, err := buildISO(c.label, c.files); err == nil {
			t.Errorf("buildISO(%q, %v) accepted", c.label, c.files)
		}
	}
}

// TestISOAsBlkidSeesIt asks util-linux's blkid, when there, for the type and label.
func TestISOAsBlkidSeesIt(t *testing.T) {
	blkid, err := exec.LookPath("blkid")
	if err != nil {
		t.Skip("no blkid here")
	}
	img, err := buildISO(cidataLabel, seedFixture().seedFiles())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(blkid, "-p", "-o", "export", path).CombinedOutput()
	if err != nil {
		t.Fatalf("blkid: %v\n%s", err, out)
	}
	for _, want := range []string{"TYPE=iso9660", "LABEL=cidata"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("blkid says:\n%s\nwant %s", out, want)
		}
	}
}

// TestISOAsIsoinfoSeesIt asks genisoimage's isoinfo, when there, for the Joliet files.
func TestISOAsIsoinfoSeesIt(t *testing.T) {
	isoinfo, err := exec.LookPath("isoinfo")
	if err != nil {
		t.Skip("no isoinfo here")
	}
	in := seedFixture()
	img, err := buildISO(cidataLabel, in.seedFiles())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(isoinfo, "-d", "-i", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Volume id: cidata") || !strings.Contains(string(out), "Joliet") {
		t.Errorf("isoinfo -d: %v\n%s", err, out)
	}
	for name, want := range map[string]string{"/user-data": in.UserData, "/meta-data": in.MetaData,
		"/network-config": in.NetworkConfig} {
		got, err := exec.Command(isoinfo, "-J", "-x", name, "-i", path).Output()
		if err != nil || string(got) != want {
			t.Errorf("isoinfo -J -x %s: %v, %q", name, err, got)
		}
	}
}
