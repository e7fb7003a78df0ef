#!/usr/bin/env bash
# Session 29 c5b: the real model's second third to /tmp/m.b (c5a.sh).
cp .carry/model.b /tmp/m.b && ls -la /tmp/m.a /tmp/m.b
