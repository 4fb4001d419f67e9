#!/usr/bin/env bash
# Makes sure the servers the test suite talks to are up on loopback, starting any that stopped:
# PostgreSQL (127.0.0.1:5432, user postgres, database test), Redis (127.0.0.1:6379) and beanstalkd
# (127.0.0.1:11300, installed from Debian's package when missing; the beanstalk tests also start
# instances of their own on free ports, so the binary must be there).
# DATABASE_URL / REDIS_URL / BEANSTALK_URL point the tests elsewhere; then that one is not started.
# Fails with a message naming the service it cannot reach.
set -euo pipefail

wait_for() { # name, command…
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "services: $name is not reachable; start it or set its URL (see README, 'Running the tests')" >&2
  return 1
}

if [ -z "${DATABASE_URL:-}" ]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      echo "services: starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    else
      echo "services: installing PostgreSQL from Debian's packages"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
  fi
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432
  if ! psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -Atc 'create database test' >/dev/null 2>&1 || true
  fi
  wait_for "PostgreSQL database 'test' (user postgres)" psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1'
fi

if [ -z "${REDIS_URL:-}" ]; then
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    if ! command -v redis-server >/dev/null 2>&1; then
      echo "services: installing Redis from Debian's packages"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    echo "services: starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  fi
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
fi
if ! command -v beanstalkd >/dev/null 2>&1; then
  echo "services: installing beanstalkd from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq beanstalkd >/dev/null
fi
if [ -z "${BEANSTALK_URL:-}" ]; then
  if ! (exec 3<>/dev/tcp/127.0.0.1/11300) 2>/dev/null; then
    echo "services: starting beanstalkd on 127.0.0.1:11300"
    setsid beanstalkd -l 127.0.0.1 -p 11300 </dev/null >/dev/null 2>&1 &
  fi
  wait_for beanstalkd bash -c 'exec 3<>/dev/tcp/127.0.0.1/11300'
fi
echo "services: PostgreSQL, Redis and beanstalkd are up"
