/*
 * Keyring and AES-GCM envelope; semantics of memberlist's keyring.go and
 * security.go as described in gossip-protocol.md §7.
 */
#include "workers/gossip/keyring.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/json.h"

void
gossip_keyring_init(struct gossip_keyring *kr)
{
	memset(kr, 0, sizeof(*kr));
}

int
gossip_key_validate(size_t len)
{
	return len == 16 || len == 24 || len == 32 ? 0 : -EINVAL;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
gossip_key_from_base64(const char *b64, uint8_t key[32], size_t *len)
{
	size_t n = strlen(b64), out = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	while (n > 0 && b64[n - 1] == '=')
		n--;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)b64[i]);
		if (v < 0)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (out >= 32)
				return -EINVAL;
			key[out++] = (uint8_t)(acc >> bits);
		}
	}
	if (gossip_key_validate(out) < 0)
		return -EINVAL;
	*len = out;
	return 0;
}

void
gossip_key_to_base64(const uint8_t *key, size_t len, char out[48])
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len && i < 32; i += 3) {
		uint32_t v = (uint32_t)key[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)key[i + 1] << 8;
		if (i + 2 < len)
			v |= key[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

static int
find_key(const struct gossip_keyring *kr, const uint8_t *key, size_t len)
{
	for (unsigned i = 0; i < kr->n; i++)
		if (kr->keylen[i] == len && memcmp(kr->key[i], key, len) == 0)
			return (int)i;
	return -1;
}

int
gossip_keyring_add(struct gossip_keyring *kr, const uint8_t *key,
    size_t len)
{
	if (gossip_key_validate(len) < 0)
		return -EINVAL;
	if (find_key(kr, key, len) >= 0)
		return 0;
	if (kr->n >= GOSSIP_MAX_KEYS)
		return -ENOSPC;
	memcpy(kr->key[kr->n], key, len);
	kr->keylen[kr->n] = (uint8_t)len;
	kr->n++;
	return 0;
}

int
gossip_keyring_use(struct gossip_keyring *kr, const uint8_t *key,
    size_t len)
{
	int i = find_key(kr, key, len);
	if (i < 0)
		return -ENOENT;
	if (i > 0) {
		uint8_t tmp[32];
		uint8_t tl = kr->keylen[i];
		memcpy(tmp, kr->key[i], sizeof(tmp));
		/* the new primary goes first, the others keep their order */
		memmove(kr->key[1], kr->key[0], (size_t)i * sizeof(kr->key[0]));
		memmove(kr->keylen + 1, kr->keylen, (size_t)i);
		memcpy(kr->key[0], tmp, sizeof(tmp));
		kr->keylen[0] = tl;
	}
	return 0;
}

int
gossip_keyring_remove(struct gossip_keyring *kr, const uint8_t *key,
    size_t len)
{
	int i = find_key(kr, key, len);
	if (kr->n > 0 && i == 0)
		return -EPERM;
	if (i < 0)
		return 0;
	unsigned rest = kr->n - (unsigned)i - 1;
	memmove(kr->key[i], kr->key[i + 1], rest * sizeof(kr->key[0]));
	memmove(kr->keylen + i, kr->keylen + i + 1, rest);
	kr->n--;
	return 0;
}

const char *
gossip_keyring_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "";
	case -EINVAL:
		return "key size must be 16, 24 or 32 bytes";
	case -ENOENT:
		return "requested key is not in the keyring";
	case -EPERM:
		return "removing the primary key is not allowed";
	case -ENOSPC:
		return "keyring is full";
	}
	return "keyring error";
}

size_t
gossip_encrypted_len(unsigned vsn, size_t n)
{
	if (vsn == 0)
		return 1 + GOSSIP_NONCE_SIZE + n + (16 - n % 16) +
		    GOSSIP_TAG_SIZE;
	return GOSSIP_ENCRYPT_OVERHEAD + n;
}

static const EVP_CIPHER *
gcm_for(size_t keylen)
{
	switch (keylen) {
	case 16:
		return EVP_aes_128_gcm();
	case 24:
		return EVP_aes_192_gcm();
	default:
		return EVP_aes_256_gcm();
	}
}

static int
gcm_seal(const uint8_t *key, size_t keylen, const uint8_t *nonce,
    const uint8_t *pt, size_t n, const uint8_t *aad, size_t aadlen,
    uint8_t *ct, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len, ok = c != NULL &&
	    EVP_EncryptInit_ex(c, gcm_for(keylen), NULL, key, nonce) == 1 &&
	    (aadlen == 0 ||
		EVP_EncryptUpdate(c, NULL, &len, aad, (int)aadlen) == 1) &&
	    EVP_EncryptUpdate(c, ct, &len, pt, (int)n) == 1 &&
	    EVP_EncryptFinal_ex(c, ct + len, &len) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GOSSIP_TAG_SIZE,
		tag) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EIO;
}

static int
gcm_open(const uint8_t *key, size_t keylen, const uint8_t *nonce,
    const uint8_t *ct, size_t n, const uint8_t *tag, const uint8_t *aad,
    size_t aadlen, uint8_t *pt)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len, ok = c != NULL &&
	    EVP_DecryptInit_ex(c, gcm_for(keylen), NULL, key, nonce) == 1 &&
	    (aadlen == 0 ||
		EVP_DecryptUpdate(c, NULL, &len, aad, (int)aadlen) == 1) &&
	    EVP_DecryptUpdate(c, pt, &len, ct, (int)n) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GOSSIP_TAG_SIZE,
		(void *)tag) == 1 &&
	    EVP_DecryptFinal_ex(c, pt + len, &len) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EBADMSG;
}

int
gossip_encrypt(const struct gossip_keyring *kr, unsigned vsn,
    const uint8_t *msg, size_t n, const uint8_t *aad, size_t aadlen,
    const uint8_t *nonce, struct buf *out)
{
	uint8_t iv[GOSSIP_NONCE_SIZE];
	struct buf padded;
	int rc;

	if (kr->n == 0)
		return -ENOKEY;
	if (n > INT32_MAX || aadlen > INT32_MAX)
		return -EMSGSIZE;
	if (nonce != NULL)
		memcpy(iv, nonce, sizeof(iv));
	else if (random_bytes(iv, sizeof(iv)) < 0)
		return -EIO;
	buf_init(&padded);
	if (vsn == 0) {
		/* PKCS#7 to the AES block size before sealing */
		uint8_t pad = (uint8_t)(16 - n % 16);
		buf_add(&padded, msg, n);
		for (unsigned i = 0; i < pad; i++)
			buf_addch(&padded, (char)pad);
		msg = padded.data;
		n = padded.len;
	}
	size_t start = out->len;
	buf_reserve(out, 1 + sizeof(iv) + n + GOSSIP_TAG_SIZE);
	out->data[out->len++] = vsn == 0 ? 0 : 1;
	memcpy(out->data + out->len, iv, sizeof(iv));
	out->len += sizeof(iv);
	rc = gcm_seal(kr->key[0], kr->keylen[0], iv, msg, n, aad, aadlen,
	    out->data + out->len, out->data + out->len + n);
	buf_free(&padded);
	if (rc < 0) {
		out->len = start;
		return rc;
	}
	out->len += n + GOSSIP_TAG_SIZE;
	out->data[out->len] = 0;
	return 0;
}

int
gossip_decrypt(const struct gossip_keyring *kr, const uint8_t *msg,
    size_t n, const uint8_t *aad, size_t aadlen, struct buf *out)
{
	if (n == 0)
		return -ENODATA;
	unsigned vsn = msg[0];
	if (vsn > 1)
		return -EPROTONOSUPPORT;
	if (n < gossip_encrypted_len(vsn, 0) || n > INT32_MAX ||
	    aadlen > INT32_MAX)
		return -EMSGSIZE;
	size_t ctlen = n - 1 - GOSSIP_NONCE_SIZE - GOSSIP_TAG_SIZE;
	const uint8_t *nonce = msg + 1, *ct = nonce + GOSSIP_NONCE_SIZE;
	const uint8_t *tag = ct + ctlen;
	size_t start = out->len;

	buf_reserve(out, ctlen + 16);
	for (unsigned i = 0; i < kr->n; i++) {
		if (gcm_open(kr->key[i], kr->keylen[i], nonce, ct, ctlen, tag,
		    aad, aadlen, out->data + start) < 0)
			continue;
		if (vsn == 0) {
			uint8_t pad = ctlen ? out->data[start + ctlen - 1] : 0;
			if (pad == 0 || pad > 16 || pad > ctlen)
				return -EBADMSG;
			ctlen -= pad;
		}
		out->len = start + ctlen;
		out->data[out->len] = 0;
		return 0;
	}
	return -ENOKEY;
}

const char *
gossip_crypt_strerror(int rc)
{
	switch (rc) {
	case -ENODATA:
		return "cannot decrypt empty payload";
	case -EPROTONOSUPPORT:
		return "unsupported encryption version";
	case -EMSGSIZE:
		return "payload is too small to decrypt";
	case -ENOKEY:
		return "no installed keys could decrypt the message";
	case -EBADMSG:
		return "bad padding in decrypted message";
	}
	return "encryption failure";
}

int
gossip_keyring_load_json(struct gossip_keyring *kr, const char *json,
    size_t len, const char **why)
{
	struct gossip_keyring tmp;
	uint8_t key[32];
	size_t klen;
	const char *b64;

	*why = "";
	yajl_val v = json_parse(json, len, NULL);
	if (v == NULL || !YAJL_IS_ARRAY(v)) {
		*why = "keyring file is not a JSON array";
		yajl_tree_free(v);
		return -EINVAL;
	}
	gossip_keyring_init(&tmp);
	for (size_t i = 0; i < v->u.array.len; i++) {
		if (!json_as_str(v->u.array.values[i], &b64) ||
		    gossip_key_from_base64(b64, key, &klen) < 0) {
			*why = "keyring file holds an invalid key";
			yajl_tree_free(v);
			return -EINVAL;
		}
		if (gossip_keyring_add(&tmp, key, klen) < 0) {
			*why = "too many keys in the keyring file";
			yajl_tree_free(v);
			return -EINVAL;
		}
	}
	yajl_tree_free(v);
	*kr = tmp;
	return 0;
}

void
gossip_keyring_to_json(const struct gossip_keyring *kr, struct buf *out)
{
	char b64[48];
	struct json_w w;
	json_w_init(&w, out, false);
	json_w_arr_open(&w);
	for (unsigned i = 0; i < kr->n; i++) {
		gossip_key_to_base64(kr->key[i], kr->keylen[i], b64);
		json_w_str(&w, b64);
	}
	json_w_arr_close(&w);
	json_w_finish(&w);
}
