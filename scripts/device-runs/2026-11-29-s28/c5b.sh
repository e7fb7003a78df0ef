#!/usr/bin/env bash
# Session 28 c5b (H200, warm after c5a): the real model's second third to /tmp.
cp .carry/model.b /tmp/m.b && ls -la /tmp/m.a /tmp/m.b
