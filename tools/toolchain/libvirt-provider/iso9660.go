package main

// A minimal ISO 9660 image writer: one root directory of regular files, with a Joliet
// hierarchy for the exact (lower-case, dashed) names, as `genisoimage -J -V LABEL` makes for a
// cloud-init NoCloud seed. The output depends only on the label and the files.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"
)

const sectorSize = 2048

// isoFile is a file of the root directory.
type isoFile struct {
	Name string
	Data []byte
}

// isoRecordDate is the fixed recording date of every directory record (1 January 2000, UTC).
var isoRecordDate = [7]byte{100, 1, 1, 0, 0, 0, 0}

// Fixed sectors of the layout.
const (
	sectorPVD         = 16
	sectorJolietSVD   = 17
	sectorTerminator  = 18
	sectorPathL       = 19
	sectorPathM       = 20
	sectorJolietPathL = 21
	sectorJolietPathM = 22
	sectorRootDir     = 23 // the primary root directory, then the Joliet one, then file data
)

type isoEntry struct {
	id     []byte // the file identifier as written
	sector uint32
	size   uint32
}

// buildISO returns the image of files under the volume label.
func buildISO(label string, files []isoFile) ([]byte, error) {
	if len(label) == 0 || len(label) > 16 {
		return nil, fmt.Errorf("iso: label %q must be 1 to 16 characters", label)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if f.Name == "" || len(f.Name) > 64 || strings.ContainsAny(f.Name, "/;\x00") {
			return nil, fmt.Errorf("iso: bad file name %q", f.Name)
		}
		if seen[strings.ToUpper(f.Name)] {
			return nil, fmt.Errorf("iso: two files named %q", f.Name)
		}
		seen[strings.ToUpper(f.Name)] = true
		if uint64(len(f.Data)) > 0xffffffff {
			return nil, fmt.Errorf("iso: file %s is too large", f.Name)
		}
	}
	primary := make([]isoEntry, len(files))
	joliet := make([]isoEntry, len(files))
	for i, f := range files {
		primary[i].id = primaryName(f.Name)
		joliet[i].id = ucs2(f.Name) // as genisoimage: no version suffix
	}
	primaryDirSectors := dirSectors(primary)
	jolietDirSectors := dirSectors(joliet)
	jolietRoot := uint32(sectorRootDir + primaryDirSectors)
	next := jolietRoot + uint32(jolietDirSectors)
	starts := make([]uint32, len(files))
	for i, f := range files {
		starts[i] = next
		primary[i].sector, joliet[i].sector = next, next
		primary[i].size, joliet[i].size = uint32(len(f.Data)), uint32(len(f.Data))
		next += uint32((len(f.Data) + sectorSize - 1) / sectorSize)
	}
	total := next
	img := make([]byte, int(total)*sectorSize)
	for i, f := range files {
		copy(img[int(starts[i])*sectorSize:], f.Data)
	}
	sortEntries(primary)
	sortEntries(joliet)

	putDir(img, sectorRootDir, primaryDirSectors, primary)
	putDir(img, jolietRoot, jolietDirSectors, joliet)
	putPathTable(img, sectorPathL, sectorRootDir, binary.LittleEndian)
	putPathTable(img, sectorPathM, sectorRootDir, binary.BigEndian)
	putPathTable(img, sectorJolietPathL, jolietRoot, binary.LittleEndian)
	putPathTable(img, sectorJolietPathM, jolietRoot, binary.BigEndian)
	putVolumeDescriptor(img[sectorPVD*sectorSize:], false, label, total,
		sectorPathL, sectorPathM, sectorRootDir, primaryDirSectors)
	putVolumeDescriptor(img[sectorJolietSVD*sectorSize:], true, label, total,
		sectorJolietPathL, sectorJolietPathM, jolietRoot, jolietDirSectors)
	term := img[sectorTerminator*sectorSize:]
	term[0] = 255
	copy(term[1:6], "CD001")
	term[6] = 1
	return img, nil
}

// primaryName is the ISO 9660 identifier of name: upper case, a dot before the version
// (readers without Joliet show "user-data" for "USER-DATA.;1").
func primaryName(name string) []byte {
	up := strings.ToUpper(name)
	if !strings.Contains(up, ".") {
		up += "."
	}
	return []byte(up + ";1")
}

func ucs2(s string) []byte {
	units := utf16.Encode([]rune(s))
	out := make([]byte, 2*len(units))
	for i, u := range units {
		binary.BigEndian.PutUint16(out[2*i:], u)
	}
	return out
}

func sortEntries(es []isoEntry) {
	sort.Slice(es, func(i, j int) bool { return bytes.Compare(es[i].id, es[j].id) < 0 })
}

func recordLen(idLen int) int {
	n := 33 + idLen
	if n%2 == 1 {
		n++
	}
	return n
}

// dirSectors is how many sectors the root directory with es takes (a record never spans
// two sectors).
func dirSectors(es []isoEntry) int {
	sectors, used := 1, 2*recordLen(1)
	for _, e := range es {
		n := recordLen(len(e.id))
		if used+n > sectorSize {
			sectors++
			used = 0
		}
		used += n
	}
	return sectors
}

func putDir(img []byte, sector uint32, sectors int, es []isoEntry) {
	size := uint32(sectors * sectorSize)
	off := int(sector) * sectorSize
	end := off + sectorSize
	off += putRecord(img[off:], []byte{0}, sector, size, true)
	off += putRecord(img[off:], []byte{1}, sector, size, true)
	for _, e := range es {
		if off+recordLen(len(e.id)) > end {
			off = end
			end += sectorSize
		}
		off += putRecord(img[off:], e.id, e.sector, e.size, false)
	}
}

// putRecord writes a directory record and returns its length.
func putRecord(b []byte, id []byte, sector, size uint32, dir bool) int {
	n := recordLen(len(id))
	b[0] = byte(n)
	putBoth32(b[2:], sector)
	putBoth32(b[10:], size)
	copy(b[18:25], isoRecordDate[:])
	if dir {
		b[25] = 2
	}
	putBoth16(b[28:], 1)
	b[32] = byte(len(id))
	copy(b[33:], id)
	return n
}

// putPathTable writes the one-entry path table of a hierarchy whose root is at rootSector.
func putPathTable(img []byte, sector, rootSector uint32, order binary.ByteOrder) {
	b := img[int(sector)*sectorSize:]
	b[0] = 1
	order.PutUint32(b[2:], rootSector)
	order.PutUint16(b[6:], 1)
}

const pathTableSize = 10

func putVolumeDescriptor(b []byte, joliet bool, label string, total, pathL, pathM, root uint32, rootSectors int) {
	b[0] = 1
	if joliet {
		b[0] = 2
	}
	copy(b[1:6], "CD001")
	b[6] = 1
	text := func(off, n int, s string) {
		if joliet {
			u := ucs2(s)
			for i := 0; i+1 < n; i += 2 {
				b[off+i], b[off+i+1] = 0, ' '
			}
			copy(b[off:off+n], u)
			return
		}
		for i := range n {
			b[off+i] = ' '
		}
		copy(b[off:off+n], s)
	}
	text(8, 32, "LINUX")
	text(40, 32, label)
	putBoth32(b[80:], total)
	if joliet {
		copy(b[88:91], "%/E") // UCS-2 level 3
	}
	putBoth16(b[120:], 1)
	putBoth16(b[124:], 1)
	putBoth16(b[128:], sectorSize)
	putBoth32(b[132:], pathTableSize)
	binary.LittleEndian.PutUint32(b[140:], pathL)
	binary.BigEndian.PutUint32(b[148:], pathM)
	putRecord(b[156:], []byte{0}, root, uint32(rootSectors*sectorSize), true)
	text(190, 128, "")
	text(318, 128, "")
	text(446, 128, "")
	text(574, 128, "")
	text(702, 37, "")
	text(739, 37, "")
	text(776, 37, "")
	for _, off := range []int{813, 830, 847, 864} { // dates: "not specified"
		for i := range 16 {
			b[off+i] = '0'
		}
	}
	b[881] = 1
}

func putBoth32(b []byte, v uint32) {
	binary.LittleEndian.PutUint32(b[0:], v)
	binary.BigEndian.PutUint32(b[4:], v)
}

func putBoth16(b []byte, v uint16) {
	binary.LittleEndian.PutUint16(b[0:], v)
	binary.BigEndian.PutUint16(b[2:], v)
}
