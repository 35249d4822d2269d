// Decrypts with Java JCE what juhe-crypto encrypted, to prove interop with the vendor's stack.
// Usage (single-file launch, JDK 11+):
//   java JceDecrypt.java rsa <pkcs8-private-key-base64-file> <ciphertext-base64>
//   java JceDecrypt.java aes-cbc <key-utf8> <iv-utf8> <ciphertext-base64>
//   java JceDecrypt.java aes-ecb <key-utf8> <ciphertext-base64>
//   java JceDecrypt.java aes-openid <openid> <ciphertext-base64>...   (the vendor's 加密版 scheme;
//     one plaintext per line)
// Prints the plaintext as UTF-8.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class JceDecrypt {
    public static void main(String[] args) throws Exception {
        byte[] plain;
        switch (args[0]) {
            case "rsa": {
                String b64 = Files.readString(Path.of(args[1])).replaceAll("\\s", "");
                PrivateKey key = KeyFactory.getInstance("RSA")
                        .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64)));
                Cipher c = Cipher.getInstance("RSA/ECB/OAEPWithSHA-1AndMGF1Padding");
                c.init(Cipher.DECRYPT_MODE, key);
                plain = c.doFinal(Base64.getDecoder().decode(args[2]));
                break;
            }
            case "aes-cbc": {
                Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
                c.init(Cipher.DECRYPT_MODE,
                        new SecretKeySpec(args[1].getBytes(StandardCharsets.UTF_8), "AES"),
                        new IvParameterSpec(args[2].getBytes(StandardCharsets.UTF_8)));
                plain = c.doFinal(Base64.getDecoder().decode(args[3]));
                break;
            }
            case "aes-ecb": {
                Cipher c = Cipher.getInstance("AES/ECB/PKCS5Padding");
                c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(args[1].getBytes(StandardCharsets.UTF_8), "AES"));
                plain = c.doFinal(Base64.getDecoder().decode(args[2]));
                break;
            }
            case "aes-openid": {
                // As the vendor's Java sample: key = MD5(openid) as lowercase hex, first 16 chars.
                byte[] md5 = java.security.MessageDigest.getInstance("MD5")
                        .digest(args[1].getBytes(StandardCharsets.UTF_8));
                StringBuilder hex = new StringBuilder();
                for (byte b : md5) hex.append(String.format("%02x", b));
                String key = hex.toString().substring(0, 16);
                Cipher c = Cipher.getInstance("AES/ECB/PKCS5Padding");
                c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "AES"));
                StringBuilder lines = new StringBuilder();
                for (int i = 2; i < args.length; i++) {
                    if (i > 2) lines.append('\n');
                    lines.append(new String(c.doFinal(Base64.getDecoder().decode(args[i])), StandardCharsets.UTF_8));
                }
                plain = lines.toString().getBytes(StandardCharsets.UTF_8);
                break;
            }
            default:
                throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        System.out.print(new String(plain, StandardCharsets.UTF_8));
    }
}
