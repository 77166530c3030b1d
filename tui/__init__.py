"""The guided screen (Textual). Screens and widgets only: every action is a
call into ``ceremony``; nothing here touches PKCS#11 or TUF directly."""
