package main

// The libvirt network XML (https://libvirt.org/formatnetwork.html) of a Network's inputs.

import (
	"encoding/xml"
	"fmt"
	"math/big"
	"net/netip"
)

type networkInputs struct {
	Name           string          `json:"name"`
	Mode           string          `json:"mode"`
	Domain         string          `json:"domain"`
	Addresses      []string        `json:"addresses"`
	Bridge         string          `json:"bridge"`
	MTU            int             `json:"mtu"`
	Autostart      *bool           `json:"autostart"`
	DHCP           *networkDHCP    `json:"dhcp"`
	DNS            *networkDNS     `json:"dns"`
	DnsmasqOptions *networkDnsmasq `json:"dnsmasqOptions"`
	Routes         []networkRoute  `json:"routes"`
	XML            *xsltInput      `json:"xml"`
}

type networkDHCP struct {
	Enabled *bool `json:"enabled"`
}

type networkDNS struct {
	Enabled    *bool              `json:"enabled"`
	LocalOnly  *bool              `json:"localOnly"`
	Forwarders []networkForwarder `json:"forwarders"`
	Hosts      []networkDNSHost   `json:"hosts"`
	SRVs       []networkSRV       `json:"srvs"`
}

type networkForwarder struct {
	Address string `json:"address"`
	Domain  string `json:"domain"`
}

type networkDNSHost struct {
	Hostname string `json:"hostname"`
	IP       string `json:"ip"`
}

type networkSRV struct {
	Domain   string `json:"domain"`
	Port     string `json:"port"`
	Priority string `json:"priority"`
	Protocol string `json:"protocol"`
	Service  string `json:"service"`
	Target   string `json:"target"`
	Weight   string `json:"weight"`
}

type networkDnsmasq struct {
	Options []struct {
		OptionName  string `json:"optionName"`
		OptionValue string `json:"optionValue"`
	} `json:"options"`
}

type networkRoute struct {
	CIDR    string `json:"cidr"`
	Gateway string `json:"gateway"`
}

type xsltInput struct {
	Xslt string `json:"xslt"`
}

// Network modes (the forward mode; "none" is an isolated network without one).
var networkModes = map[string]bool{"nat": true, "none": true, "route": true, "open": true, "bridge": true}

const dnsmasqNamespace = "http://libvirt.org/schemas/network/dnsmasq/1.0"

type netXML struct {
	XMLName      xml.Name    `xml:"network"`
	XMLNSDnsmasq string      `xml:"xmlns:dnsmasq,attr,omitempty"`
	Name         string      `xml:"name"`
	Forward      *netForward `xml:"forward"`
	Bridge       *netBridge  `xml:"bridge"`
	MTU          *netMTU     `xml:"mtu"`
	Domain       *netDomain  `xml:"domain"`
	DNS          *netDNS     `xml:"dns"`
	IPs          []netIP     `xml:"ip"`
	Routes       []netRoute  `xml:"route"`
	Dnsmasq      *netDnsmasq `xml:"dnsmasq:options"`
}

type netForward struct {
	Mode string `xml:"mode,attr"`
}

type netBridge struct {
	Name  string `xml:"name,attr,omitempty"`
	STP   string `xml:"stp,attr,omitempty"`
	Delay string `xml:"delay,attr,omitempty"`
}

type netMTU struct {
	Size int `xml:"size,attr"`
}

type netDomain struct {
	Name      string `xml:"name,attr"`
	LocalOnly string `xml:"localOnly,attr,omitempty"`
}

type netDNS struct {
	Enable     string         `xml:"enable,attr,omitempty"`
	Forwarders []netForwarder `xml:"forwarder"`
	Hosts      []netDNSHost   `xml:"host"`
	SRVs       []netSRV       `xml:"srv"`
}

type netForwarder struct {
	Addr   string `xml:"addr,attr,omitempty"`
	Domain string `xml:"domain,attr,omitempty"`
}

type netDNSHost struct {
	IP        string   `xml:"ip,attr"`
	Hostnames []string `xml:"hostname"`
}

type netSRV struct {
	Service  string `xml:"service,attr,omitempty"`
	Protocol string `xml:"protocol,attr,omitempty"`
	Domain   string `xml:"domain,attr,omitempty"`
	Target   string `xml:"target,attr,omitempty"`
	Port     string `xml:"port,attr,omitempty"`
	Priority string `xml:"priority,attr,omitempty"`
	Weight   string `xml:"weight,attr,omitempty"`
}

type netIP struct {
	Address string   `xml:"address,attr"`
	Family  string   `xml:"family,attr,omitempty"`
	Prefix  int      `xml:"prefix,attr"`
	DHCP    *netDHCP `xml:"dhcp"`
}

type netDHCP struct {
	Ranges []netRange    `xml:"range"`
	Hosts  []netDHCPHost `xml:"host"`
}

type netRange struct {
	Start string `xml:"start,attr"`
	End   string `xml:"end,attr"`
}

// netDHCPHost is also the XML of one DHCP host entry given to virNetworkUpdate.
type netDHCPHost struct {
	XMLName xml.Name `xml:"host"`
	MAC     string   `xml:"mac,attr,omitempty"`
	Name    string   `xml:"name,attr,omitempty"`
	IP      string   `xml:"ip,attr"`
}

type netRoute struct {
	Family  string `xml:"family,attr,omitempty"`
	Address string `xml:"address,attr"`
	Prefix  int    `xml:"prefix,attr"`
	Gateway string `xml:"gateway,attr"`
}

type netDnsmasq struct {
	Options []netDnsmasqOption `xml:"dnsmasq:option"`
}

type netDnsmasqOption struct {
	Value string `xml:"value,attr"`
}

// networkXML renders in (already checked) as a network definition.
func networkXML(in networkInputs) (string, error) {
	def := netXML{Name: in.Name}
	mode := orDefault(in.Mode, "nat")
	if mode != "none" {
		def.Forward = &netForward{Mode: mode}
	}
	switch {
	case in.Bridge != "" && mode == "bridge":
		def.Bridge = &netBridge{Name: in.Bridge}
	case in.Bridge != "":
		def.Bridge = &netBridge{Name: in.Bridge, STP: "on", Delay: "0"}
	}
	if in.MTU > 0 {
		def.MTU = &netMTU{Size: in.MTU}
	}
	if in.Domain != "" {
		def.Domain = &netDomain{Name: in.Domain}
		if in.DNS != nil && boolOr(in.DNS.LocalOnly, false) {
			def.Domain.LocalOnly = "yes"
		}
	}
	if in.DNS != nil {
		dns, err := dnsXML(*in.DNS)
		if err != nil {
			return "", err
		}
		def.DNS = dns
	}
	dhcp := in.DHCP == nil || boolOr(in.DHCP.Enabled, true)
	if mode != "bridge" {
		for _, cidr := range in.Addresses {
			ip, err := ipXML(cidr, dhcp)
			if err != nil {
				return "", err
			}
			def.IPs = append(def.IPs, ip)
		}
	}
	for _, r := range in.Routes {
		p, err := netip.ParsePrefix(r.CIDR)
		if err != nil {
			return "", fmt.Errorf("routes: cidr %q: %w", r.CIDR, err)
		}
		route := netRoute{Address: p.Masked().Addr().String(), Prefix: p.Bits(), Gateway: r.Gateway}
		if p.Addr().Is6() {
			route.Family = "ipv6"
		}
		def.Routes = append(def.Routes, route)
	}
	if in.DnsmasqOptions != nil && len(in.DnsmasqOptions.Options) > 0 {
		def.XMLNSDnsmasq = dnsmasqNamespace
		def.Dnsmasq = &netDnsmasq{}
		for _, o := range in.DnsmasqOptions.Options {
			v := o.OptionName
			if o.OptionValue != "" {
				v += "=" + o.OptionValue
			}
			def.Dnsmasq.Options = append(def.Dnsmasq.Options, netDnsmasqOption{Value: v})
		}
	}
	return marshalXML(def)
}

func dnsXML(in networkDNS) (*netDNS, error) {
	if !boolOr(in.Enabled, true) {
		return &netDNS{Enable: "no"}, nil
	}
	dns := &netDNS{}
	for _, f := range in.Forwarders {
		dns.Forwarders = append(dns.Forwarders, netForwarder{Addr: f.Address, Domain: f.Domain})
	}
	byIP := map[string]int{}
	for _, h := range in.Hosts {
		if _, err := netip.ParseAddr(h.IP); err != nil {
			return nil, fmt.Errorf("dns.hosts: ip %q: %w", h.IP, err)
		}
		if i, ok := byIP[h.IP]; ok {
			dns.Hosts[i].Hostnames = append(dns.Hosts[i].Hostnames, h.Hostname)
			continue
		}
		byIP[h.IP] = len(dns.Hosts)
		dns.Hosts = append(dns.Hosts, netDNSHost{IP: h.IP, Hostnames: []string{h.Hostname}})
	}
	for _, s := range in.SRVs {
		dns.SRVs = append(dns.SRVs, netSRV{Service: s.Service, Protocol: s.Protocol, Domain: s.Domain,
			Target: s.Target, Port: s.Port, Priority: s.Priority, Weight: s.Weight})
	}
	if dns.Forwarders == nil && dns.Hosts == nil && dns.SRVs == nil {
		return nil, nil
	}
	return dns, nil
}

// ipXML is the <ip> of a network address in CIDR form: the host takes the first address of the
// subnet, DHCP (when on) serves the second up to the last but one (the IPv4 broadcast).
func ipXML(cidr string, dhcp bool) (netIP, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netIP{}, fmt.Errorf("addresses: %q is not a CIDR: %w", cidr, err)
	}
	p = p.Masked()
	hostBits := p.Addr().BitLen() - p.Bits()
	if hostBits < 2 {
		return netIP{}, fmt.Errorf("addresses: %q is too small for a network", cidr)
	}
	gateway := p.Addr().Next()
	ip := netIP{Address: gateway.String(), Prefix: p.Bits()}
	if p.Addr().Is6() {
		ip.Family = "ipv6"
	}
	if dhcp {
		last := addAddr(p.Addr(), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), uint(hostBits)), big.NewInt(2)))
		ip.DHCP = &netDHCP{Ranges: []netRange{{Start: gateway.Next().String(), End: last.String()}}}
	}
	return ip, nil
}

// addAddr is a + n.
func addAddr(a netip.Addr, n *big.Int) netip.Addr {
	b := a.AsSlice()
	v := new(big.Int).SetBytes(b)
	v.Add(v, n)
	out := v.FillBytes(make([]byte, len(b)))
	r, _ := netip.AddrFromSlice(out)
	return r
}

func marshalXML(v any) (string, error) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", err
	}
	return string(out), nil
}
