/*
 * faultpkcs11: a PKCS#11 module for tests that forwards every call to a real
 * module (SoftHSM2) and fails the calls it is told to.
 *
 * A ceremony must meet a token pulled out mid-signature, a PIN that locks, or
 * a token that returns a wrong signature with a clear message and a workspace
 * left whole. Real tokens cannot be made to misbehave on cue; this module can.
 *
 * Environment:
 *   FAULTPKCS11_TARGET   the module to forward to (default: FAULT_DEFAULT_TARGET,
 *                        set when this file is compiled)
 *   FAULTPKCS11_RULES    rules, separated by newlines or ';'
 *   FAULTPKCS11_CONTROL  a file holding more rules, read again at every call,
 *                        so a test can arm and disarm faults mid-process
 *   FAULTPKCS11_LOG      a file to which one line is appended per fault fired:
 *                        "FUNCTION USE ACTION"
 *
 * A rule is "FUNCTION WHEN ACTION [MODE]":
 *   FUNCTION  a PKCS#11 function name (C_Sign, C_Login, ...) or * for any
 *   WHEN      N: the Nth use only; N+: the Nth use and every later one
 *   ACTION    a return value, by name (CKR_DEVICE_REMOVED, ...) or number
 *             (decimal or 0x hex); or "flip": the call goes through and one
 *             bit of the signature it returns is flipped (C_Sign, C_SignFinal)
 *   MODE      before (default): the call never reaches the real module;
 *             after: the call reaches it, then its answer is replaced
 * Uses are counted per rule from the moment the rules last changed. A C_Sign
 * or C_SignFinal that only asks for the signature's length (no buffer) is
 * passed through and not counted, so "C_Sign 1 ..." means the first
 * signature, not the length query before it.
 *
 * The real module may already be initialised by another user in the same
 * process (a test holding SoftHSM open directly): C_Initialize then succeeds
 * without initialising it again, and C_Finalize leaves it initialised.
 */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FAULT_DEFAULT_TARGET
#define FAULT_DEFAULT_TARGET "/usr/lib/softhsm/libsofthsm2.so"
#endif

#define EXPORT __attribute__((visibility("default")))

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef unsigned char CK_BYTE;
typedef CK_BYTE CK_BBOOL;
typedef CK_BYTE *BUF;
typedef CK_ULONG *ULP;
typedef void *PTR;
typedef struct {
    CK_BYTE major;
    CK_BYTE minor;
} CK_VERSION;

#define CKR_OK 0x0UL
#define CKR_GENERAL_ERROR 0x5UL
#define CKR_ARGUMENTS_BAD 0x7UL
#define CKR_CRYPTOKI_NOT_INITIALIZED 0x190UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL

struct function_list;

/* Every forwarded function with its parameters and argument names, in the
 * order of CK_FUNCTION_LIST after C_GetFunctionList (PKCS#11 2.40). */
#define FORWARDED(X) \
    X(C_GetSlotList, (CK_BBOOL a, ULP b, ULP c), (a, b, c), NULL, NULL) \
    X(C_GetSlotInfo, (CK_ULONG a, PTR b), (a, b), NULL, NULL) \
    X(C_GetTokenInfo, (CK_ULONG a, PTR b), (a, b), NULL, NULL) \
    X(C_GetMechanismList, (CK_ULONG a, ULP b, ULP c), (a, b, c), NULL, NULL) \
    X(C_GetMechanismInfo, (CK_ULONG a, CK_ULONG b, PTR c), (a, b, c), NULL, NULL) \
    X(C_InitToken, (CK_ULONG a, BUF b, CK_ULONG c, BUF d), (a, b, c, d), NULL, NULL) \
    X(C_InitPIN, (CK_ULONG a, BUF b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_SetPIN, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, CK_ULONG e), (a, b, c, d, e), NULL, NULL) \
    X(C_OpenSession, (CK_ULONG a, CK_ULONG b, PTR c, PTR d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_CloseSession, (CK_ULONG a), (a), NULL, NULL) \
    X(C_CloseAllSessions, (CK_ULONG a), (a), NULL, NULL) \
    X(C_GetSessionInfo, (CK_ULONG a, PTR b), (a, b), NULL, NULL) \
    X(C_GetOperationState, (CK_ULONG a, BUF b, ULP c), (a, b, c), NULL, NULL) \
    X(C_SetOperationState, (CK_ULONG a, BUF b, CK_ULONG c, CK_ULONG d, CK_ULONG e), (a, b, c, d, e), NULL, NULL) \
    X(C_Login, (CK_ULONG a, CK_ULONG b, BUF c, CK_ULONG d), (a, b, c, d), NULL, NULL) \
    X(C_Logout, (CK_ULONG a), (a), NULL, NULL) \
    X(C_CreateObject, (CK_ULONG a, PTR b, CK_ULONG c, ULP d), (a, b, c, d), NULL, NULL) \
    X(C_CopyObject, (CK_ULONG a, CK_ULONG b, PTR c, CK_ULONG d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_DestroyObject, (CK_ULONG a, CK_ULONG b), (a, b), NULL, NULL) \
    X(C_GetObjectSize, (CK_ULONG a, CK_ULONG b, ULP c), (a, b, c), NULL, NULL) \
    X(C_GetAttributeValue, (CK_ULONG a, CK_ULONG b, PTR c, CK_ULONG d), (a, b, c, d), NULL, NULL) \
    X(C_SetAttributeValue, (CK_ULONG a, CK_ULONG b, PTR c, CK_ULONG d), (a, b, c, d), NULL, NULL) \
    X(C_FindObjectsInit, (CK_ULONG a, PTR b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_FindObjects, (CK_ULONG a, ULP b, CK_ULONG c, ULP d), (a, b, c, d), NULL, NULL) \
    X(C_FindObjectsFinal, (CK_ULONG a), (a), NULL, NULL) \
    X(C_EncryptInit, (CK_ULONG a, PTR b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_Encrypt, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_EncryptUpdate, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_EncryptFinal, (CK_ULONG a, BUF b, ULP c), (a, b, c), NULL, NULL) \
    X(C_DecryptInit, (CK_ULONG a, PTR b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_Decrypt, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_DecryptUpdate, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_DecryptFinal, (CK_ULONG a, BUF b, ULP c), (a, b, c), NULL, NULL) \
    X(C_DigestInit, (CK_ULONG a, PTR b), (a, b), NULL, NULL) \
    X(C_Digest, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_DigestUpdate, (CK_ULONG a, BUF b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_DigestKey, (CK_ULONG a, CK_ULONG b), (a, b), NULL, NULL) \
    X(C_DigestFinal, (CK_ULONG a, BUF b, ULP c), (a, b, c), NULL, NULL) \
    X(C_SignInit, (CK_ULONG a, PTR b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_Sign, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), d, e) \
    X(C_SignUpdate, (CK_ULONG a, BUF b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_SignFinal, (CK_ULONG a, BUF b, ULP c), (a, b, c), b, c) \
    X(C_SignRecoverInit, (CK_ULONG a, PTR b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_SignRecover, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_VerifyInit, (CK_ULONG a, PTR b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_Verify, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, CK_ULONG e), (a, b, c, d, e), NULL, NULL) \
    X(C_VerifyUpdate, (CK_ULONG a, BUF b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_VerifyFinal, (CK_ULONG a, BUF b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_VerifyRecoverInit, (CK_ULONG a, PTR b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_VerifyRecover, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_DigestEncryptUpdate, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_DecryptDigestUpdate, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_SignEncryptUpdate, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_DecryptVerifyUpdate, (CK_ULONG a, BUF b, CK_ULONG c, BUF d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_GenerateKey, (CK_ULONG a, PTR b, PTR c, CK_ULONG d, ULP e), (a, b, c, d, e), NULL, NULL) \
    X(C_GenerateKeyPair, (CK_ULONG a, PTR b, PTR c, CK_ULONG d, PTR e, CK_ULONG f, ULP g, ULP h), (a, b, c, d, e, f, g, h), NULL, NULL) \
    X(C_WrapKey, (CK_ULONG a, PTR b, CK_ULONG c, CK_ULONG d, BUF e, ULP f), (a, b, c, d, e, f), NULL, NULL) \
    X(C_UnwrapKey, (CK_ULONG a, PTR b, CK_ULONG c, BUF d, CK_ULONG e, PTR f, CK_ULONG g, ULP h), (a, b, c, d, e, f, g, h), NULL, NULL) \
    X(C_DeriveKey, (CK_ULONG a, PTR b, CK_ULONG c, PTR d, CK_ULONG e, ULP f), (a, b, c, d, e, f), NULL, NULL) \
    X(C_SeedRandom, (CK_ULONG a, BUF b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_GenerateRandom, (CK_ULONG a, BUF b, CK_ULONG c), (a, b, c), NULL, NULL) \
    X(C_GetFunctionStatus, (CK_ULONG a), (a), NULL, NULL) \
    X(C_CancelFunction, (CK_ULONG a), (a), NULL, NULL) \
    X(C_WaitForSlotEvent, (CK_ULONG a, ULP b, PTR c), (a, b, c), NULL, NULL)

#define FIELD(name, params, args, signature, length) CK_RV(*name) params;
struct function_list {
    CK_VERSION version;
    CK_RV (*C_Initialize)(PTR);
    CK_RV (*C_Finalize)(PTR);
    CK_RV (*C_GetInfo)(PTR);
    CK_RV (*C_GetFunctionList)(struct function_list **);
    FORWARDED(FIELD)
};

/* ------------------------------------------------------------------------
 * Return values by name: the ones tests ask for, and their neighbours. */

static const struct {
    const char *name;
    CK_RV value;
} CKR_NAMES[] = {
    {"CKR_OK", 0x0},
    {"CKR_HOST_MEMORY", 0x2},
    {"CKR_SLOT_ID_INVALID", 0x3},
    {"CKR_GENERAL_ERROR", 0x5},
    {"CKR_FUNCTION_FAILED", 0x6},
    {"CKR_ARGUMENTS_BAD", 0x7},
    {"CKR_DEVICE_ERROR", 0x30},
    {"CKR_DEVICE_MEMORY", 0x31},
    {"CKR_DEVICE_REMOVED", 0x32},
    {"CKR_FUNCTION_CANCELED", 0x50},
    {"CKR_KEY_HANDLE_INVALID", 0x60},
    {"CKR_MECHANISM_INVALID", 0x70},
    {"CKR_OBJECT_HANDLE_INVALID", 0x82},
    {"CKR_OPERATION_ACTIVE", 0x90},
    {"CKR_PIN_INCORRECT", 0xa0},
    {"CKR_PIN_INVALID", 0xa1},
    {"CKR_PIN_LEN_RANGE", 0xa2},
    {"CKR_PIN_EXPIRED", 0xa3},
    {"CKR_PIN_LOCKED", 0xa4},
    {"CKR_SESSION_CLOSED", 0xb0},
    {"CKR_SESSION_COUNT", 0xb1},
    {"CKR_SESSION_HANDLE_INVALID", 0xb3},
    {"CKR_SESSION_READ_ONLY", 0xb5},
    {"CKR_TEMPLATE_INCOMPLETE", 0xd0},
    {"CKR_TOKEN_NOT_PRESENT", 0xe0},
    {"CKR_TOKEN_NOT_RECOGNIZED", 0xe1},
    {"CKR_TOKEN_WRITE_PROTECTED", 0xe2},
    {"CKR_USER_NOT_LOGGED_IN", 0x101},
    {"CKR_BUFFER_TOO_SMALL", 0x150},
};

/* ------------------------------------------------------------------------
 * Rules */

#define MAX_RULES 32
#define MAX_TEXT 8192

enum action { ACT_RETURN, ACT_FLIP };

struct rule {
    char function[64];
    unsigned long nth;
    int and_later;
    enum action action;
    CK_RV rv;
    int after;
    unsigned long uses;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rule rules[MAX_RULES];
static int rule_count;
static int rules_broken;
static char rules_text[MAX_TEXT];

static int parse_rv(const char *word, CK_RV *rv) {
    for (size_t i = 0; i < sizeof(CKR_NAMES) / sizeof(CKR_NAMES[0]); i++) {
        if (strcmp(word, CKR_NAMES[i].name) == 0) {
            *rv = CKR_NAMES[i].value;
            return 1;
        }
    }
    char *end = NULL;
    errno = 0;
    unsigned long value = strtoul(word, &end, 0);
    if (errno || end == word || *end != '\0') return 0;
    *rv = value;
    return 1;
}

static int parse_rule(char *line, struct rule *rule) {
    char function[64], when[32], action[64], mode[16] = "before", extra[8];
    int fields = sscanf(line, "%63s %31s %63s %15s %7s", function, when, action, mode, extra);
    if (fields < 3 || fields > 4) return 0;
    memset(rule, 0, sizeof(*rule));
    snprintf(rule->function, sizeof(rule->function), "%s", function);
    char *end = NULL;
    rule->nth = strtoul(when, &end, 10);
    if (end == when || rule->nth == 0) return 0;
    if (*end == '+') {
        rule->and_later = 1;
        end++;
    }
    if (*end != '\0') return 0;
    if (strcmp(action, "flip") == 0) {
        if (strcmp(function, "C_Sign") != 0 && strcmp(function, "C_SignFinal") != 0) return 0;
        rule->action = ACT_FLIP;
    } else if (!parse_rv(action, &rule->rv)) {
        return 0;
    }
    if (strcmp(mode, "after") == 0) {
        rule->after = 1;
    } else if (strcmp(mode, "before") != 0) {
        return 0;
    }
    return 1;
}

/* All rules as one text: the environment's, then the control file's. */
static void current_text(char *text, size_t size) {
    const char *inline_rules = getenv("FAULTPKCS11_RULES");
    snprintf(text, size, "%s\n", inline_rules ? inline_rules : "");
    const char *control = getenv("FAULTPKCS11_CONTROL");
    if (!control || !*control) return;
    FILE *file = fopen(control, "r");
    if (!file) return;
    size_t used = strlen(text);
    used += fread(text + used, 1, size - used - 1, file);
    text[used] = '\0';
    fclose(file);
}

/* Parse the rules again when their text changed; counts start afresh. */
static void refresh_rules(void) {
    char text[MAX_TEXT];
    current_text(text, sizeof(text));
    if (strcmp(text, rules_text) == 0) return;
    memcpy(rules_text, text, sizeof(text));
    rule_count = 0;
    rules_broken = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n;", &save); line;
         line = strtok_r(NULL, "\n;", &save)) {
        while (*line == ' ' || *line == '\t') line++;
        if (*line == '\0' || *line == '#') continue;
        if (rule_count == MAX_RULES || !parse_rule(line, &rules[rule_count])) {
            fprintf(stderr, "faultpkcs11: cannot use rule: %s\n", line);
            rules_broken = 1;
            continue;
        }
        rule_count++;
    }
}

static void log_fired(const char *function, unsigned long use, const struct rule *rule) {
    const char *path = getenv("FAULTPKCS11_LOG");
    if (!path || !*path) return;
    FILE *file = fopen(path, "a");
    if (!file) return;
    if (rule->action == ACT_FLIP) {
        fprintf(file, "%s %lu flip\n", function, use);
    } else {
        fprintf(file, "%s %lu 0x%lx%s\n", function, use, rule->rv, rule->after ? " after" : "");
    }
    fclose(file);
}

enum step { PASS, REFUSE, AFTER, FLIP };

/* What to do with this use of ``function``; ``rv`` is the answer to give
 * instead of the real one (REFUSE, AFTER). */
static enum step plan(const char *function, CK_RV *rv) {
    enum step step = PASS;
    pthread_mutex_lock(&lock);
    refresh_rules();
    for (int i = 0; i < rule_count; i++) {
        struct rule *rule = &rules[i];
        if (strcmp(rule->function, "*") != 0 && strcmp(rule->function, function) != 0) continue;
        rule->uses++;
        int due = rule->and_later ? rule->uses >= rule->nth : rule->uses == rule->nth;
        if (!due || step != PASS) continue;
        log_fired(function, rule->uses, rule);
        *rv = rule->rv;
        step = rule->action == ACT_FLIP ? FLIP : rule->after ? AFTER : REFUSE;
    }
    if (rules_broken && step == PASS) {
        *rv = CKR_GENERAL_ERROR;
        step = REFUSE;
    }
    pthread_mutex_unlock(&lock);
    return step;
}

/* ------------------------------------------------------------------------
 * The real module */

static struct function_list *target;
static struct function_list ours;
static int initialised;
static int own_initialisation;

static int load_target(void) {
    if (target) return 1;
    const char *path = getenv("FAULTPKCS11_TARGET");
    if (!path || !*path) path = FAULT_DEFAULT_TARGET;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "faultpkcs11: cannot load %s: %s\n", path, dlerror());
        return 0;
    }
    CK_RV (*get_list)(struct function_list **);
    *(void **)&get_list = dlsym(handle, "C_GetFunctionList");
    struct function_list *list = NULL;
    if (!get_list || get_list(&list) != CKR_OK || !list) {
        fprintf(stderr, "faultpkcs11: %s has no usable C_GetFunctionList\n", path);
        return 0;
    }
    target = list;
    return 1;
}

static void flip_signature(CK_RV result, BUF signature, ULP length) {
    if (result == CKR_OK && signature && length && *length > 0) signature[*length / 2] ^= 0x01;
}

/* One forwarded call. ``signature`` and ``length`` are a signing call's
 * output (NULL for every other function); a signing call without a buffer
 * is a length query, passed through uncounted. */
#define WRAPPER(name, params, args, signature, length)                       \
    EXPORT CK_RV name params {                                               \
        CK_RV rv = CKR_OK;                                                   \
        BUF out = (BUF)(signature);                                          \
        ULP out_length = (ULP)(length);                                      \
        if (!load_target()) return CKR_GENERAL_ERROR;                        \
        if (out_length != NULL && out == NULL) return target->name args;     \
        enum step step = plan(#name, &rv);                                   \
        if (step == REFUSE) return rv;                                       \
        CK_RV result = target->name args;                                    \
        if (step == AFTER) return rv;                                        \
        if (step == FLIP) flip_signature(result, out, out_length);           \
        return result;                                                       \
    }

FORWARDED(WRAPPER)

EXPORT CK_RV C_GetInfo(PTR info) {
    CK_RV rv = CKR_OK;
    if (!load_target()) return CKR_GENERAL_ERROR;
    enum step step = plan("C_GetInfo", &rv);
    if (step == REFUSE) return rv;
    CK_RV result = target->C_GetInfo(info);
    return step == AFTER ? rv : result;
}

/* Initialise the real module unless another user in this process did. */
EXPORT CK_RV C_Initialize(PTR init_args) {
    CK_RV rv = CKR_OK;
    if (!load_target()) return CKR_GENERAL_ERROR;
    enum step step = plan("C_Initialize", &rv);
    if (step == REFUSE) return rv;
    CK_RV result = CKR_CRYPTOKI_ALREADY_INITIALIZED;
    if (!initialised) {
        result = target->C_Initialize(init_args);
        own_initialisation = result == CKR_OK;
        if (result == CKR_CRYPTOKI_ALREADY_INITIALIZED) result = CKR_OK;
        initialised = result == CKR_OK;
    }
    return step == AFTER ? rv : result;
}

/* Finalise the real module only if this module initialised it. */
EXPORT CK_RV C_Finalize(PTR reserved) {
    CK_RV rv = CKR_OK;
    if (!load_target()) return CKR_GENERAL_ERROR;
    enum step step = plan("C_Finalize", &rv);
    if (step == REFUSE) return rv;
    CK_RV result = CKR_CRYPTOKI_NOT_INITIALIZED;
    if (initialised) {
        result = own_initialisation ? target->C_Finalize(reserved) : CKR_OK;
        initialised = 0;
        own_initialisation = 0;
    }
    return step == AFTER ? rv : result;
}

#define FILL(name, params, args, signature, length) ours.name = name;

EXPORT CK_RV C_GetFunctionList(struct function_list **list) {
    if (!list) return CKR_ARGUMENTS_BAD;
    if (!load_target()) return CKR_GENERAL_ERROR;
    CK_RV rv = CKR_OK;
    if (plan("C_GetFunctionList", &rv) == REFUSE) return rv;
    ours.version = target->version;
    ours.C_Initialize = C_Initialize;
    ours.C_Finalize = C_Finalize;
    ours.C_GetInfo = C_GetInfo;
    ours.C_GetFunctionList = C_GetFunctionList;
    FORWARDED(FILL)
    *list = &ours;
    return CKR_OK;
}
