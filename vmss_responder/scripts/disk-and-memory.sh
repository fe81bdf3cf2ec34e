#!/bin/bash
# Read-only resource pressure check.
df -h; echo; free -m; echo; ps aux --sort=-%mem | head -15; echo; ps aux --sort=-%cpu | head -15
