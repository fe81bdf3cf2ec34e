#!/bin/bash
# Read-only diagnostics for an instance failing its application health probe.
# Chosen by name from the repo's library (never from a payload); output is capped at 4 KB by Azure.
echo "== uptime"; uptime
echo "== failed units"; systemctl --failed --no-legend 2>/dev/null | head -20
echo "== listening sockets"; ss -ltnp 2>/dev/null | head -20
echo "== health extension"; find /var/lib/waagent/ -maxdepth 1 -iname '*health*' 2>/dev/null | head -5
tail -n 20 /var/log/azure/Microsoft.ManagedServices.ApplicationHealthLinux/*.log 2>/dev/null
echo "== disk"; df -h / /var 2>/dev/null
echo "== memory"; free -m
echo "== recent kernel messages"; dmesg -T 2>/dev/null | tail -n 15
