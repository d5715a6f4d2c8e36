/* eventstream: AWS's binary stream framing (application/vnd.amazon.eventstream), as Bedrock's
 * invoke-with-response-stream and converse-stream answer. A frame: total length and headers
 * length (32-bit big-endian), a CRC-32 of those 8 bytes, the headers, the payload, a CRC-32 of
 * all that came before. Pure; no I/O. */
#ifndef LLMSHIM_EVENTSTREAM_H
#define LLMSHIM_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

/* The length of the whole, valid frame starting at buf[from] (both CRCs checked), or 0 when
 * buf[from..len) does not hold one yet, or never will (a frame that fails its CRCs). */
size_t es_frame(const char *buf, size_t len, size_t from);
/* A string header of a valid frame (":event-type", ":message-type"...): 1 and its value, else 0. */
int es_header(const char *frame, size_t n, const char *name, const char **value, size_t *vlen);
/* A valid frame's payload. */
const char *es_payload(const char *frame, size_t n, size_t *plen);
/* CRC-32 (IEEE 802.3), as the frames carry it. */
uint32_t es_crc32(uint32_t crc, const unsigned char *p, size_t n);

#endif
