#!/usr/bin/env bash
# redis_certs.sh DIR - the throwaway PKI of the Redis TLS tests (unit and e2e), made with openssl:
#   ca.pem ca.key           a test CA (RSA 2048, like the public CAs managed Redis uses)
#   server.pem/.key         EC P-256, for localhost, 127.0.0.1 and ::1 (server and client auth:
#                           redis-server uses it for its cluster bus and replication links too)
#   server-rsa.pem/.key     RSA 2048, the same names: the ECDHE_RSA suites
#   client.pem/.key         RSA 2048, client auth: mutual TLS
#   client-ec.pem/.key      EC P-256, client auth
#   wrong.pem/.key          valid, but for wrong.example only
#   expired.pem/.key        for localhost and 127.0.0.1, expired in 2020 (made under faketime)
#   other-ca.pem            another CA, which signed none of these
#   client-enc.key          client.key encrypted (PKCS#8, a passphrase): refused
# Prints nothing on success; the openssl log on failure (exit 1).
set -u
d=${1:?usage: redis_certs.sh DIR}
mkdir -p "$d" || exit 1
cd "$d" || exit 1
log=$(
    exec 2>&1
    set -e
    sign() { # NAME KEYFILE SAN EKU [faketime args...]
        local name=$1 key=$2 san=$3 eku=$4
        shift 4
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=$eku" ${san:+"subjectAltName=$san"} >"$name.ext"
        openssl req -new -key "$key" -out "$name.csr" -subj "/CN=$name"
        "$@" openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -CAserial ca.srl \
            -out "$name.pem" -days "${DAYS:-825}" -extfile "$name.ext"
        rm -f "$name.csr" "$name.ext"
    }
    ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
    rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
    rsa ca.key
    openssl req -x509 -new -key ca.key -out ca.pem -days 3650 -subj "/CN=llmshim redis test CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    names="DNS:localhost,IP:127.0.0.1,IP:::1"
    ec server.key && sign server server.key "$names" serverAuth,clientAuth
    rsa server-rsa.key && sign server-rsa server-rsa.key "$names" serverAuth,clientAuth
    rsa client.key && sign client client.key "" clientAuth
    ec client-ec.key && sign client-ec client-ec.key "" clientAuth
    ec wrong.key && sign wrong wrong.key "DNS:wrong.example" serverAuth
    ec expired.key && DAYS=1 sign expired expired.key "$names" serverAuth faketime '2020-01-01 00:00:00'
    ec other-ca.key
    openssl req -x509 -new -key other-ca.key -out other-ca.pem -days 3650 -subj "/CN=another CA" \
        -addext "basicConstraints=critical,CA:TRUE"
    rm -f other-ca.key ca.srl
    openssl pkcs8 -topk8 -in client.key -out client-enc.key -passout pass:llmshim-test -v2 aes-256-cbc
    chmod 600 ./*.key
) || { echo "redis_certs.sh: openssl failed:" >&2; printf '%s\n' "$log" >&2; exit 1; }
