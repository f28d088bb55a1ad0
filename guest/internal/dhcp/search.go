package dhcp

import (
	"fmt"
	"strings"
)

// decodeDomainSearch decodes option 119 (RFC 3397): a list of DNS names in wire
// format whose compression pointers are offsets into the option data itself.
func decodeDomainSearch(data []byte) ([]string, error) {
	var domains []string
	for offset := 0; offset < len(data); {
		name, next, err := decodeName(data, offset)
		if err != nil {
			return nil, err
		}
		if name != "" {
			domains = append(domains, name)
		}
		offset = next
	}
	return domains, nil
}

// decodeName reads the name at offset and returns it (without the trailing dot) and
// the offset just past it in the uncompressed stream.
func decodeName(data []byte, offset int) (string, int, error) {
	var labels []string
	next := -1
	for jumps := 0; ; {
		if offset >= len(data) {
			return "", 0, fmt.Errorf("%w: domain search name runs past the option", ErrMalformed)
		}
		length := int(data[offset])
		switch {
		case length == 0:
			if next < 0 {
				next = offset + 1
			}
			return strings.Join(labels, "."), next, nil
		case length&0xc0 == 0xc0:
			if offset+1 >= len(data) {
				return "", 0, fmt.Errorf("%w: truncated compression pointer", ErrMalformed)
			}
			if jumps++; jumps > len(data) {
				return "", 0, fmt.Errorf("%w: compression pointer loop", ErrMalformed)
			}
			if next < 0 {
				next = offset + 2
			}
			offset = (length&0x3f)<<8 | int(data[offset+1])
		case offset+1+length > len(data):
			return "", 0, fmt.Errorf("%w: label overruns the option", ErrMalformed)
		default:
			labels = append(labels, string(data[offset+1:offset+1+length]))
			offset += 1 + length
		}
	}
}
