/*
 * The gossip keyring and memberlist's AES-GCM envelope
 * (gossip-protocol.md §7).
 *
 * Keys are 16, 24 or 32 bytes (AES-128/192/256-GCM).  keys[0] is the
 * primary: it encrypts; decryption tries every installed key in order.
 * The envelope is version (1 byte) | nonce (12) | ciphertext | tag (16).
 * Version 1 seals the plaintext as is; version 0 (memberlist protocol 1
 * only) PKCS#7-pads it to 16 bytes first.  Both are accepted on input.
 * The associated data is the label for UDP, and the 5-byte stream header
 * (0a + u32 length) followed by the label for TCP.
 */
#ifndef MUSTER_GOSSIP_KEYRING_H
#define MUSTER_GOSSIP_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

#define GOSSIP_MAX_KEYS 16
#define GOSSIP_NONCE_SIZE 12
#define GOSSIP_TAG_SIZE 16
/* version byte + nonce + tag: what version 1 adds to a message */
#define GOSSIP_ENCRYPT_OVERHEAD (1 + GOSSIP_NONCE_SIZE + GOSSIP_TAG_SIZE)

struct gossip_keyring {
	uint8_t key[GOSSIP_MAX_KEYS][32];
	uint8_t keylen[GOSSIP_MAX_KEYS];
	unsigned n;		/* 0: encryption off */
};

void gossip_keyring_init(struct gossip_keyring *kr);
/* -EINVAL unless 16, 24 or 32 bytes. */
int gossip_key_validate(size_t len);
/* Standard base64 (what `serf keygen` prints) to raw key bytes; -EINVAL. */
int gossip_key_from_base64(const char *b64, uint8_t key[32], size_t *len);
void gossip_key_to_base64(const uint8_t *key, size_t len, char out[48]);

/*
 * Keyring edits with memberlist's semantics: add is a no-op for a key
 * already installed and makes the first key primary; use makes an
 * installed key primary (-ENOENT "requested key is not in the keyring");
 * remove refuses the primary (-EPERM "removing the primary key is not
 * allowed") and ignores unknown keys.  -ENOSPC past GOSSIP_MAX_KEYS.
 */
int gossip_keyring_add(struct gossip_keyring *kr, const uint8_t *key,
    size_t len);
int gossip_keyring_use(struct gossip_keyring *kr, const uint8_t *key,
    size_t len);
int gossip_keyring_remove(struct gossip_keyring *kr, const uint8_t *key,
    size_t len);
/* The message memberlist/serf give for a keyring error code. */
const char *gossip_keyring_strerror(int rc);

/*
 * Seal msg with the primary key into out (appended).  nonce may be NULL
 * (fresh random nonce) or 12 bytes (tests reproducing a capture).
 * -ENOKEY when the keyring is empty, -EIO if OpenSSL fails.
 */
int gossip_encrypt(const struct gossip_keyring *kr, unsigned vsn,
    const uint8_t *msg, size_t n, const uint8_t *aad, size_t aadlen,
    const uint8_t *nonce, struct buf *out);

/*
 * Open an envelope with any installed key, appending the plaintext to
 * out.  Errors, each with memberlist's wording in gossip_crypt_strerror:
 * -ENODATA empty payload, -EPROTONOSUPPORT version > 1, -EMSGSIZE too
 * small to decrypt, -ENOKEY no installed key could decrypt it.
 */
int gossip_decrypt(const struct gossip_keyring *kr, const uint8_t *msg,
    size_t n, const uint8_t *aad, size_t aadlen, struct buf *out);

/*
 * The keyring file serf and Consul keep (serf/local.keyring,
 * serf/remote.keyring): a JSON array of base64 keys, primary first.
 * load replaces kr; -EINVAL (with *why) on a malformed file or key.
 */
int gossip_keyring_load_json(struct gossip_keyring *kr, const char *json,
    size_t len, const char **why);
void gossip_keyring_to_json(const struct gossip_keyring *kr,
    struct buf *out);

/* Length of the envelope for an n-byte plaintext (version 0 or 1). */
size_t gossip_encrypted_len(unsigned vsn, size_t n);
const char *gossip_crypt_strerror(int rc);

#endif
