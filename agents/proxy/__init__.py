"""The service proxy: one per host, routes Service traffic to pods with nftables and answers names.

    ruleset.py  Services + EndpointSlices -> the nftables transaction (pure; kube-proxy's nftables mode)
    nft.py      the seam to the kernel: libnftables' JSON API (Debian's python3-nftables)
    dns.py      a DNS responder for <service>.<namespace>.svc.cluster.local (dnslib)
    proxy.py    the Proxy: informers, one level-triggered sync loop, the DNS records

No Ray in here: a Ray actor (proxy-<host>) wraps the Proxy elsewhere.
"""
