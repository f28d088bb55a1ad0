package config

import (
	"fmt"
	"net/netip"
	"strings"
)

func validateDNS(raw *rawConfig, c *Config) error {
	zones, err := parseZones("dnsZones", raw.DNSZones)
	if err != nil {
		return err
	}
	c.DNSZones = zones
	for i, d := range raw.DNSSearchDomains {
		name := strings.TrimSuffix(d, ".")
		if err := checkDomainName(fmt.Sprintf("dnsSearchDomains[%d]", i), name); err != nil {
			return err
		}
		c.DNSSearchDomains = append(c.DNSSearchDomains, name)
	}
	return nil
}

// parseZones validates a list of zones (config dnsZones, setDnsZones); field names it.
func parseZones(field string, raw []rawDNSZone) ([]DNSZone, error) {
	zones := []DNSZone{}
	names := make(map[string]int, len(raw))
	for i, rz := range raw {
		zfield := fmt.Sprintf("%s[%d]", field, i)
		zone, err := parseZone(zfield, rz)
		if err != nil {
			return nil, err
		}
		if first, dup := names[zone.Name]; dup {
			return nil, invalid(zfield+".name", "zone %s is already defined by %s[%d]", zone.Name, field, first)
		}
		names[zone.Name] = i
		zones = append(zones, zone)
	}
	return zones, nil
}

func parseZone(field string, rz rawDNSZone) (DNSZone, error) {
	name := strings.TrimSuffix(rz.Name, ".")
	if err := checkDomainName(field+".name", name); err != nil {
		return DNSZone{}, err
	}
	// The upstream DNS server matches queries (always fully qualified) by the suffix
	// "."+zone, so zones are stored fully qualified too.
	zone := DNSZone{Name: strings.ToLower(name) + "."}
	if rz.DefaultIP != nil {
		ip, err := parseIPv4(field+".defaultIp", *rz.DefaultIP)
		if err != nil {
			return DNSZone{}, err
		}
		zone.DefaultIP = ip
	}
	for j, rr := range rz.Records {
		rfield := fmt.Sprintf("%s.records[%d]", field, j)
		if err := checkDomainName(rfield+".name", rr.Name); err != nil {
			return DNSZone{}, err
		}
		ip, err := parseIPv4(rfield+".ip", rr.IP)
		if err != nil {
			return DNSZone{}, err
		}
		zone.Records = append(zone.Records, DNSRecord{Name: strings.ToLower(rr.Name), IP: ip})
	}
	return zone, nil
}

func parseIPv4(field, s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, invalid(field, "%q is not an IPv4 address", s)
	}
	return ip, nil
}

// checkDomainName accepts a relative or absolute (without the final dot) DNS name:
// labels of 1..63 letters, digits, '-' or '_' (service labels), not starting or ending
// with '-', 253 characters at most.
func checkDomainName(field, name string) error {
	if name == "" {
		return invalid(field, "a DNS name is required")
	}
	if len(name) > 253 {
		return invalid(field, "%q is longer than 253 characters", name)
	}
	for _, label := range strings.Split(name, ".") {
		if err := checkLabel(label); err != "" {
			return invalid(field, "%q is not a valid DNS name: %s", name, err)
		}
	}
	return nil
}

func checkLabel(label string) string {
	if label == "" || len(label) > 63 {
		return "every label must be 1..63 characters"
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Sprintf("label %q starts or ends with '-'", label)
	}
	for _, r := range label {
		ok := r == '-' || r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Sprintf("label %q contains %q", label, r)
		}
	}
	return ""
}
